"""ONC RPC (RFC 5531) calls and replies as GlusterFS sends them (GLUSTER_PROTOCOL.md §1).

Each function handles a whole record in one native call: ``decode_call`` takes a reassembled
record payload and decodes the header and, for the procedures this codec knows, the arguments;
``encode_success``/``encode_reply``/``encode_call`` return the bytes to send, record mark included
(one last fragment, as GlusterFS sends).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gd2.xdr._glue import decode_native, encode_native, fast_constructor, int64s
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError, status_error
from gd2.xdr.messages import DECODERS, DECODERS_BY_ID, ENCODE_ERRORS, Message, encode_body

RPC_VERSION = 2

# Programs (§1.6) and their procedures.
GF_DUMP_PROGRAM, GF_DUMP_VERSION = 123451501, 1
GF_DUMP_NULL, GF_DUMP_DUMP, GF_DUMP_PING = 0, 1, 2
HANDSHAKE_PROGRAM, HANDSHAKE_VERSION = 14398633, 2
HANDSHAKE_NULL, HANDSHAKE_GETSPEC, HANDSHAKE_EVENT_NOTIFY, HANDSHAKE_GET_VOLUME_INFO = 0, 2, 5, 6
PORTMAP_PROGRAM, PORTMAP_VERSION = 34123456, 1
PORTMAP_NULL, PORTMAP_PORTBYBRICK, PORTMAP_SIGNIN, PORTMAP_SIGNOUT = 0, 1, 4, 5
CALLBACK_PROGRAM, CALLBACK_VERSION = 52743234, 1
CALLBACK_FETCHSPEC = 1

# Authentication flavors (§1.5).
AUTH_NONE = 0
AUTH_UNIX = 1
AUTH_GLUSTERFS = 5
AUTH_GLUSTERFS_V2 = 390039
AUTH_GLUSTERFS_V3 = 390040
MAX_AUTH_BYTES = 400

# reply_stat, accept_stat, reject_stat, auth_stat.
MSG_ACCEPTED, MSG_DENIED = 0, 1
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS, SYSTEM_ERR = range(6)
RPC_MISMATCH, AUTH_ERROR = 0, 1
AUTH_OK, AUTH_BADCRED, AUTH_REJECTEDCRED, AUTH_BADVERF, AUTH_REJECTEDVERF, AUTH_TOOWEAK = range(6)

_MSG_VOID: int = _lib.GXDR_MSG_VOID
_MSG_RAW: int = _lib.GXDR_MSG_RAW
_CALL_SLOTS: int = _lib.GXDR_CALL_SLOTS
_REPLY_SLOTS: int = _lib.GXDR_REPLY_SLOTS

Args = Message | bytes | None
"""Procedure arguments or results: a known message, raw XDR bytes, or None for void."""


@dataclass(frozen=True, slots=True)
class RpcCall:
    """A CALL message.

    Decoded, ``args`` is the typed message for the procedures this codec knows (None for void
    ones), or the raw argument bytes for any other procedure. ``args_error`` is non-empty when a
    known procedure's arguments did not decode (the server answers GARBAGE_ARGS); args are then
    raw. With ``rpcvers`` other than 2 only ``xid`` and ``rpcvers`` were read.
    """

    xid: int
    prog: int
    vers: int
    proc: int
    args: Args = None
    cred_flavor: int = AUTH_NONE
    cred: bytes = b""
    verf_flavor: int = AUTH_NONE
    verf: bytes = b""
    rpcvers: int = RPC_VERSION
    args_error: str = ""


@dataclass(frozen=True, slots=True)
class RpcReply:
    """A REPLY message.

    Accepted (``reply_stat`` MSG_ACCEPTED): ``accept_stat`` says how; ``result`` holds the results
    of SUCCESS, ``mismatch_low``/``mismatch_high`` the versions of PROG_MISMATCH. Denied:
    ``reject_stat`` RPC_MISMATCH (with the low/high RPC versions) or AUTH_ERROR (``auth_stat``).
    """

    xid: int
    result: Args = None
    reply_stat: int = MSG_ACCEPTED
    accept_stat: int = SUCCESS
    reject_stat: int = RPC_MISMATCH
    mismatch_low: int = 0
    mismatch_high: int = 0
    auth_stat: int = AUTH_OK
    verf_flavor: int = AUTH_NONE
    verf: bytes = b""

    @property
    def success(self) -> bool:
        """True for an accepted reply with accept_stat SUCCESS."""
        return self.reply_stat == MSG_ACCEPTED and self.accept_stat == SUCCESS


_new_call = fast_constructor(RpcCall)
_new_reply = fast_constructor(RpcReply)


# ---- calls --------------------------------------------------------------------------------------------

_CALL_HEAD = int64s(10)  # msg, xid, rpcvers, prog, vers, proc, cred flavor, cred length, verf flavor, verf length
_REPLY_HEAD = int64s(8)  # msg, xid, reply_stat, detail, low, high, verf flavor, verf length
_SUCCESS_HEAD = struct.Struct("=qq48x")  # msg, xid; then MSG_ACCEPTED, SUCCESS, 0, 0, AUTH_NONE, 0
_encode_call = _lib.gxdr_encode_call
_encode_reply = _lib.gxdr_encode_reply
_decode_call = _lib.gxdr_decode_call
_decode_reply = _lib.gxdr_decode_reply


def encode_call(call: RpcCall) -> bytes:
    """The record (mark included) of call; its args are a message, raw XDR bytes or None."""
    try:
        msg, vals, blob = encode_body(call.args)
        head = _CALL_HEAD.pack(msg, call.xid, call.rpcvers, call.prog, call.vers, call.proc, call.cred_flavor,
                               len(call.cred), call.verf_flavor, len(call.verf))  # fmt: skip
        blob = call.cred + call.verf + blob
    except ENCODE_ERRORS as exc:
        raise XdrError(f"encoding a call: {exc}") from None
    return encode_native(_encode_call, head + vals, blob, "a call")


def encode_fetchspec_call(xid: int) -> bytes:
    """The FETCHSPEC callback (§1.7): AUTH_NONE, no arguments; clients never reply to it."""
    return encode_call(RpcCall(xid, CALLBACK_PROGRAM, CALLBACK_VERSION, CALLBACK_FETCHSPEC))


def decode_call(record: bytes | bytearray | memoryview) -> RpcCall:
    """Decode a CALL record payload (record mark removed).

    Raises XdrError when the header is not a valid CALL (truncated, wrong msg_type, credential or
    verifier over 400 bytes): no reply can be trusted to reach such a peer. Arguments that do not
    decode do not raise: see RpcCall.args_error.
    """
    data = record if type(record) is bytes else bytes(record)
    s = decode_native(_decode_call, data, (), "an RPC call")
    xid, rpcvers, prog, vers, proc, cflavor, coff, clen, vflavor, voff, vlen, aoff, amsg, astatus = s[:14]
    args: Args
    error = ""
    if astatus:
        args = data[aoff:]
        error = str(status_error(astatus, "decoding the arguments"))
    elif amsg == _MSG_VOID:
        args = None
    elif amsg == _MSG_RAW:
        args = data[aoff:]
    else:
        args = DECODERS_BY_ID[amsg](s, _CALL_SLOTS, data)
    return _new_call(xid, prog, vers, proc, args, cflavor, data[coff : coff + clen], vflavor,
                     data[voff : voff + vlen], rpcvers, error)  # fmt: skip


# ---- replies ------------------------------------------------------------------------------------------


def encode_success(xid: int, result: Args) -> bytes:
    """The record of an accepted SUCCESS reply to call xid carrying result (AUTH_NONE verifier)."""
    try:
        msg, vals, blob = encode_body(result)
        head = _SUCCESS_HEAD.pack(msg, xid)
    except ENCODE_ERRORS as exc:
        raise XdrError(f"encoding a reply: {exc}") from None
    return encode_native(_encode_reply, head + vals, blob, "a reply")


def encode_reply(reply: RpcReply) -> bytes:
    """The record of any reply: success, accept errors (PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL,
    GARBAGE_ARGS, SYSTEM_ERR) or denials (RPC_MISMATCH, AUTH_ERROR)."""
    if reply.reply_stat == MSG_ACCEPTED:
        detail, low, high = reply.accept_stat, reply.mismatch_low, reply.mismatch_high
    else:
        detail = reply.reject_stat
        low, high = (reply.auth_stat, 0) if detail == AUTH_ERROR else (reply.mismatch_low, reply.mismatch_high)
    if reply.result is not None and not reply.success:
        raise XdrError("only a SUCCESS reply carries results")
    try:
        msg, vals, blob = encode_body(reply.result)
        head = _REPLY_HEAD.pack(msg, reply.xid, reply.reply_stat, detail, low, high, reply.verf_flavor,
                                len(reply.verf))  # fmt: skip
        blob = reply.verf + blob
    except ENCODE_ERRORS as exc:
        raise XdrError(f"encoding a reply: {exc}") from None
    return encode_native(_encode_reply, head + vals, blob, "a reply")


def decode_reply(record: bytes | bytearray | memoryview, result_type: type[Message] | type[bytes] | None) -> RpcReply:
    """Decode a REPLY record payload whose SUCCESS results are a result_type message (None: void,
    bytes: left raw). XdrError on anything malformed, including results that are not exactly a
    result_type."""
    data = record if type(record) is bytes else bytes(record)
    decode = None
    if result_type is None:
        msg = _MSG_VOID
    elif result_type is bytes:
        msg = _MSG_RAW
    elif result_type in DECODERS:
        msg, decode = DECODERS[result_type]
    else:
        raise XdrError(f"not a message type this codec knows: {result_type!r}")
    s = decode_native(_decode_reply, data, (msg,), "an RPC reply")
    xid, stat, detail, low, high, vflavor, voff, vlen, body = s[:9]
    verf = data[voff : voff + vlen]
    if stat != MSG_ACCEPTED:
        if detail == AUTH_ERROR:
            return _new_reply(xid, None, stat, SUCCESS, detail, 0, 0, low, vflavor, verf)
        return _new_reply(xid, None, stat, SUCCESS, detail, low, high, AUTH_OK, vflavor, verf)
    result: Args = None
    if detail == SUCCESS:
        if decode is not None:
            result = decode(s, _REPLY_SLOTS, data)
        elif msg == _MSG_RAW:
            result = data[body:]
    return _new_reply(xid, result, stat, detail, RPC_MISMATCH, low, high, AUTH_OK, vflavor, verf)
