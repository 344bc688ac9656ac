"""The REST API (FastAPI on hypercorn's trio worker): Unix socket and TCP."""
