# The cffi-generated extension (native/build_xdr_ffi.py). Only gd2.xdr's own modules import it; the
# facade gives the rest of the code typed functions, so the cffi objects are typed loosely here.
from typing import Any

ffi: Any
lib: Any
