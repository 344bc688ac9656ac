"""XDR codec and RPC record marking (L0: pure, bytes in and bytes out).

The encoding work is done by a small C library (native/xdr_codec.c) through cffi; this package
is its typed facade, and nothing outside it sees the cffi objects.
"""

from gd2.xdr.codec import UNBOUNDED, XdrDecoder, XdrEncoder
from gd2.xdr.errors import XdrError
from gd2.xdr.record import LAST_FRAGMENT, MAX_FRAGMENT, RecordReassembler, encode_record

__all__ = [
    "LAST_FRAGMENT",
    "MAX_FRAGMENT",
    "UNBOUNDED",
    "RecordReassembler",
    "XdrDecoder",
    "XdrEncoder",
    "XdrError",
    "encode_record",
]
