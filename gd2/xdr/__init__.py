"""XDR codec and RPC record marking (L0: pure, bytes in and bytes out).

The encoding work is done by a small C library (native/xdr_codec.c) through cffi; this package
is its typed facade, and nothing outside it sees the cffi objects.

Messages are described by format strings, so that a whole message costs one foreign call::

    encoder.pack("I I o<400> s", xid, flavor, credentials, volfile_key)
    xid, flavor, credentials, volfile_key = decoder.unpack("I I o<400> s")

    I unsigned int   i int   Q unsigned hyper   q hyper   ? bool
    o opaque<>   o<N> opaque<N>   o[N] opaque[N]   s string<>   s<N> string<N>   (spaces ignored)
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
