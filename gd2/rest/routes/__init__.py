"""Route modules, one per resource; each builds an APIRouter from Services."""
