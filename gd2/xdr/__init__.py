"""XDR codec, RPC record marking and the GlusterFS management messages (L0: bytes in, bytes out).

The encoding work is done by a small C library (native/xdr_codec.c, native/gxdr_rpc.c) through
cffi; this package is its typed facade, and nothing outside it sees the cffi objects.

Two levels:

* Whole RPC messages, one native call each way (gd2.xdr.rpc, gd2.xdr.messages, gd2.xdr.gfdict)::

      call = decode_call(record)                 # header + typed arguments (GetspecRequest, ...)
      wire = encode_success(call.xid, GetspecReply.found(volfile))   # record mark included

* Format strings for anything else, a whole sequence of items per native call::

      encoder.pack("I I o<400> s", xid, flavor, credentials, volfile_key)
      xid, flavor, credentials, volfile_key = decoder.unpack("I I o<400> s")

      I unsigned int   i int   Q unsigned hyper   q hyper   ? bool
      o opaque<>   o<N> opaque<N>   o[N] opaque[N]   s string<>   s<N> string<N>   (spaces ignored)
"""

from gd2.xdr.codec import UNBOUNDED, XdrDecoder, XdrEncoder
from gd2.xdr.errors import XdrError
from gd2.xdr.gfdict import GfDict, decode_dict, dict_int, dict_str, dict_value, encode_dict, make_dict
from gd2.xdr.messages import (
    GF_DUMP_GFS_ID,
    CommonReply,
    DumpReply,
    DumpRequest,
    EventNotifyReply,
    EventNotifyRequest,
    GetspecReply,
    GetspecRequest,
    GetVolumeInfoReply,
    GetVolumeInfoRequest,
    Message,
    PortByBrickReply,
    PortByBrickRequest,
    ProgDetail,
    SigninReply,
    SigninRequest,
    SignoutReply,
    SignoutRequest,
    decode_message,
    encode_message,
)
from gd2.xdr.record import LAST_FRAGMENT, MAX_FRAGMENT, RecordReassembler, encode_record
from gd2.xdr.rpc import (
    Args,
    RpcCall,
    RpcReply,
    decode_call,
    decode_reply,
    encode_call,
    encode_fetchspec_call,
    encode_reply,
    encode_success,
)

__all__ = [
    "GF_DUMP_GFS_ID",
    "LAST_FRAGMENT",
    "MAX_FRAGMENT",
    "UNBOUNDED",
    "Args",
    "CommonReply",
    "DumpReply",
    "DumpRequest",
    "EventNotifyReply",
    "EventNotifyRequest",
    "GetVolumeInfoReply",
    "GetVolumeInfoRequest",
    "GetspecReply",
    "GetspecRequest",
    "GfDict",
    "Message",
    "PortByBrickReply",
    "PortByBrickRequest",
    "ProgDetail",
    "RecordReassembler",
    "RpcCall",
    "RpcReply",
    "SigninReply",
    "SigninRequest",
    "SignoutReply",
    "SignoutRequest",
    "XdrDecoder",
    "XdrEncoder",
    "XdrError",
    "decode_call",
    "decode_dict",
    "decode_message",
    "decode_reply",
    "dict_int",
    "dict_str",
    "dict_value",
    "encode_call",
    "encode_dict",
    "encode_fetchspec_call",
    "encode_message",
    "encode_record",
    "encode_reply",
    "encode_success",
    "make_dict",
]
