"""Procedure arguments and results of the GlusterFS management programs, as frozen dataclasses.

GF-DUMP (GLUSTER_PROTOCOL.md §2), handshake (§3) and portmap (§4). Field names follow the XDR
definitions of GlusterFS 10.3, except that a field the XDR calls ``dict`` is ``data`` here. Fields
holding a serialized glusterfs dict are decoded ``dict[str, bytes]`` (see gd2.xdr.gfdict); strings
are str (UTF-8 with surrogateescape, so any bytes survive a round trip).

Each message maps to a native layout (native/gxdr_rpc.h); the encoders below list its values and
blob parts, the decoders read its slots. ``encode_message``/``decode_message`` handle a bare body;
gd2.xdr.rpc frames them in RPC calls and replies.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gd2.xdr._glue import decode_native, encode_native, fast_constructor, int64s, pack_values
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError
from gd2.xdr.gfdict import GfDict, get_dict, put_dict

GF_DUMP_GFS_ID = 0xCAED
"""The gfs_id every GlusterFS client puts in a DUMP request."""

_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class DumpRequest:
    """gf_dump_req (GF-DUMP proc 1)."""

    gfs_id: int = GF_DUMP_GFS_ID


@dataclass(frozen=True, slots=True)
class ProgDetail:
    """One gf_prog_detail entry of a DUMP reply: a program the server offers."""

    name: str
    number: int
    version: int


@dataclass(frozen=True, slots=True)
class DumpReply:
    """gf_dump_rsp: the linked list of programs, as a tuple."""

    gfs_id: int
    op_ret: int
    op_errno: int
    programs: tuple[ProgDetail, ...] = ()


@dataclass(frozen=True, slots=True)
class CommonReply:
    """gf_common_rsp, the PING reply body (and EVENT_NOTIFY-style acknowledgements)."""

    op_ret: int = 0
    op_errno: int = 0
    xdata: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GetspecRequest:
    """gf_getspec_req (handshake proc 2): flags 1 from clients, 0 from bricks; key = volfile-id."""

    flags: int
    key: str
    xdata: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GetspecReply:
    """gf_getspec_rsp. On success op_ret MUST be the byte length of spec (§3.1): see ``found``."""

    op_ret: int
    op_errno: int
    spec: str
    xdata: GfDict = field(default_factory=dict)

    @classmethod
    def found(cls, spec: str, xdata: GfDict | None = None) -> GetspecReply:
        """The success reply: op_ret is the UTF-8 byte length of spec, as clients require."""
        return cls(len(spec.encode("utf-8", "surrogateescape")), 0, spec, xdata or {})


@dataclass(frozen=True, slots=True)
class EventNotifyRequest:
    """gf_event_notify_req (handshake proc 5); op 0 is GF_EN_DEFRAG_STATUS."""

    op: int
    data: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventNotifyReply:
    """gf_event_notify_rsp."""

    op_ret: int = 0
    op_errno: int = 0
    data: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GetVolumeInfoRequest:
    """gf_get_volume_info_req (handshake proc 6): data holds ``volname`` and ``flags``."""

    data: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GetVolumeInfoReply:
    """gf_get_volume_info_rsp: data holds ``volume_id`` on success."""

    op_ret: int
    op_errno: int
    op_errstr: str = ""
    data: GfDict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PortByBrickRequest:
    """pmap_port_by_brick_req (portmap proc 1)."""

    brick: str


@dataclass(frozen=True, slots=True)
class PortByBrickReply:
    """pmap_port_by_brick_rsp: port on success, op_ret -1 when the brick is not signed in."""

    op_ret: int
    op_errno: int
    status: int
    port: int


@dataclass(frozen=True, slots=True)
class SigninRequest:
    """pmap_signin_req (portmap proc 4), sent by glusterfsd once its brick listens."""

    brick: str
    port: int
    pid: int


@dataclass(frozen=True, slots=True)
class SigninReply:
    """pmap_signin_rsp."""

    op_ret: int = 0
    op_errno: int = 0


@dataclass(frozen=True, slots=True)
class SignoutRequest:
    """pmap_signout_req (portmap proc 5), sent by glusterfsd on clean shutdown."""

    brick: str
    port: int
    rdma_port: int = 0


@dataclass(frozen=True, slots=True)
class SignoutReply:
    """pmap_signout_rsp."""

    op_ret: int = 0
    op_errno: int = 0


Message = (
    DumpRequest
    | DumpReply
    | CommonReply
    | GetspecRequest
    | GetspecReply
    | EventNotifyRequest
    | EventNotifyReply
    | GetVolumeInfoRequest
    | GetVolumeInfoReply
    | PortByBrickRequest
    | PortByBrickReply
    | SigninRequest
    | SigninReply
    | SignoutRequest
    | SignoutReply
)
"""Every message body this codec knows."""

M = TypeVar("M", bound=Message)

# ---- encoders: a body's native message id, values (packed int64s) and blob --------------------------
#
# Fixed-layout bodies pack their values with one struct each; bodies with a dict or a list build a
# list of values first. Bad field types surface as AttributeError/TypeError/struct.error, which
# the public functions turn into XdrError (ENCODE_ERRORS).

Encoded = tuple[int, bytes, bytes]
Encoder = Callable[[Any], Encoded]

_Q1, _Q2, _Q3, _Q4 = (int64s(n) for n in (1, 2, 3, 4))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _with_dict(msg_id: int, values: list[int], parts: list[bytes], data: GfDict) -> Encoded:
    put_dict(data, values, parts)
    return msg_id, pack_values(values), b"".join(parts)


def _enc_dump_req(m: DumpRequest) -> Encoded:
    return _DUMP_REQ, _Q1.pack(_signed64(m.gfs_id)), b""


def _enc_dump_rsp(m: DumpReply) -> Encoded:
    values = [_signed64(m.gfs_id), m.op_ret, m.op_errno, len(m.programs)]
    names = []
    for prog in m.programs:
        name = _utf8(prog.name)
        values += (len(name), _signed64(prog.number), _signed64(prog.version))
        names.append(name)
    return _DUMP_RSP, pack_values(values), b"".join(names)


def _enc_common_rsp(m: CommonReply) -> Encoded:
    if not m.xdata:
        return _COMMON_RSP, _Q3.pack(m.op_ret, m.op_errno, 0), b""
    return _with_dict(_COMMON_RSP, [m.op_ret, m.op_errno], [], m.xdata)


def _enc_getspec_req(m: GetspecRequest) -> Encoded:
    key = _utf8(m.key)
    return _with_dict(_GETSPEC_REQ, [m.flags, len(key)], [key], m.xdata)


def _enc_getspec_rsp(m: GetspecReply) -> Encoded:
    spec = _utf8(m.spec)
    if not m.xdata:
        return _GETSPEC_RSP, _Q4.pack(m.op_ret, m.op_errno, len(spec), 0), spec
    return _with_dict(_GETSPEC_RSP, [m.op_ret, m.op_errno, len(spec)], [spec], m.xdata)


def _enc_event_req(m: EventNotifyRequest) -> Encoded:
    return _with_dict(_EVENT_REQ, [m.op], [], m.data)


def _enc_event_rsp(m: EventNotifyReply) -> Encoded:
    return _with_dict(_EVENT_RSP, [m.op_ret, m.op_errno], [], m.data)


def _enc_volinfo_req(m: GetVolumeInfoRequest) -> Encoded:
    return _with_dict(_VOLINFO_REQ, [], [], m.data)


def _enc_volinfo_rsp(m: GetVolumeInfoReply) -> Encoded:
    errstr = _utf8(m.op_errstr)
    return _with_dict(_VOLINFO_RSP, [m.op_ret, m.op_errno, len(errstr)], [errstr], m.data)


def _enc_portbybrick_req(m: PortByBrickRequest) -> Encoded:
    brick = _utf8(m.brick)
    return _PORTBYBRICK_REQ, _Q1.pack(len(brick)), brick


def _enc_portbybrick_rsp(m: PortByBrickReply) -> Encoded:
    return _PORTBYBRICK_RSP, _Q4.pack(m.op_ret, m.op_errno, m.status, m.port), b""


def _enc_signin_req(m: SigninRequest) -> Encoded:
    brick = _utf8(m.brick)
    return _SIGNIN_REQ, _Q3.pack(len(brick), m.port, m.pid), brick


def _enc_signin_rsp(m: SigninReply) -> Encoded:
    return _SIGNIN_RSP, _Q2.pack(m.op_ret, m.op_errno), b""


def _enc_signout_req(m: SignoutRequest) -> Encoded:
    brick = _utf8(m.brick)
    return _SIGNOUT_REQ, _Q3.pack(len(brick), m.port, m.rdma_port), brick


def _enc_signout_rsp(m: SignoutReply) -> Encoded:
    return _SIGNOUT_RSP, _Q2.pack(m.op_ret, m.op_errno), b""


def _signed64(value: int) -> int:
    # u_hyper values travel to the native code as int64 bits.
    if not 0 <= value <= _U64:
        raise XdrError(f"unsigned hyper {value} out of range")
    return value - (1 << 64) if value >> 63 else value


# ---- decoders: build one body from its slots --------------------------------------------------------

Decoder = Callable[[tuple[int, ...], int, bytes], Any]

_new_dump_req = fast_constructor(DumpRequest)
_new_prog = fast_constructor(ProgDetail)
_new_dump_rsp = fast_constructor(DumpReply)
_new_common_rsp = fast_constructor(CommonReply)
_new_getspec_req = fast_constructor(GetspecRequest)
_new_getspec_rsp = fast_constructor(GetspecReply)
_new_event_req = fast_constructor(EventNotifyRequest)
_new_event_rsp = fast_constructor(EventNotifyReply)
_new_volinfo_req = fast_constructor(GetVolumeInfoRequest)
_new_volinfo_rsp = fast_constructor(GetVolumeInfoReply)
_new_portbybrick_req = fast_constructor(PortByBrickRequest)
_new_portbybrick_rsp = fast_constructor(PortByBrickReply)
_new_signin_req = fast_constructor(SigninRequest)
_new_signin_rsp = fast_constructor(SigninReply)
_new_signout_req = fast_constructor(SignoutRequest)
_new_signout_rsp = fast_constructor(SignoutReply)


def _text(s: tuple[int, ...], k: int, data: bytes) -> str:
    off = s[k]
    return data[off : off + s[k + 1]].decode("utf-8", "surrogateescape")


def _get_dump_req(s: tuple[int, ...], k: int, data: bytes) -> DumpRequest:
    return _new_dump_req(s[k] & _U64)


def _get_dump_rsp(s: tuple[int, ...], k: int, data: bytes) -> DumpReply:
    programs = []
    for i in range(k + 4, k + 4 + 4 * s[k + 3], 4):
        off = s[i]
        name = data[off : off + s[i + 1]].decode("utf-8", "surrogateescape")
        programs.append(_new_prog(name, s[i + 2] & _U64, s[i + 3] & _U64))
    return _new_dump_rsp(s[k] & _U64, s[k + 1], s[k + 2], tuple(programs))


def _get_common_rsp(s: tuple[int, ...], k: int, data: bytes) -> CommonReply:
    return _new_common_rsp(s[k], s[k + 1], get_dict(s, k + 2, data))


def _get_getspec_req(s: tuple[int, ...], k: int, data: bytes) -> GetspecRequest:
    return _new_getspec_req(s[k], _text(s, k + 1, data), get_dict(s, k + 3, data))


def _get_getspec_rsp(s: tuple[int, ...], k: int, data: bytes) -> GetspecReply:
    return _new_getspec_rsp(s[k], s[k + 1], _text(s, k + 2, data), get_dict(s, k + 4, data))


def _get_event_req(s: tuple[int, ...], k: int, data: bytes) -> EventNotifyRequest:
    return _new_event_req(s[k], get_dict(s, k + 1, data))


def _get_event_rsp(s: tuple[int, ...], k: int, data: bytes) -> EventNotifyReply:
    return _new_event_rsp(s[k], s[k + 1], get_dict(s, k + 2, data))


def _get_volinfo_req(s: tuple[int, ...], k: int, data: bytes) -> GetVolumeInfoRequest:
    return _new_volinfo_req(get_dict(s, k, data))


def _get_volinfo_rsp(s: tuple[int, ...], k: int, data: bytes) -> GetVolumeInfoReply:
    return _new_volinfo_rsp(s[k], s[k + 1], _text(s, k + 2, data), get_dict(s, k + 4, data))


def _get_portbybrick_req(s: tuple[int, ...], k: int, data: bytes) -> PortByBrickRequest:
    return _new_portbybrick_req(_text(s, k, data))


def _get_portbybrick_rsp(s: tuple[int, ...], k: int, data: bytes) -> PortByBrickReply:
    return _new_portbybrick_rsp(s[k], s[k + 1], s[k + 2], s[k + 3])


def _get_signin_req(s: tuple[int, ...], k: int, data: bytes) -> SigninRequest:
    return _new_signin_req(_text(s, k, data), s[k + 2], s[k + 3])


def _get_signin_rsp(s: tuple[int, ...], k: int, data: bytes) -> SigninReply:
    return _new_signin_rsp(s[k], s[k + 1])


def _get_signout_req(s: tuple[int, ...], k: int, data: bytes) -> SignoutRequest:
    return _new_signout_req(_text(s, k, data), s[k + 2], s[k + 3])


def _get_signout_rsp(s: tuple[int, ...], k: int, data: bytes) -> SignoutReply:
    return _new_signout_rsp(s[k], s[k + 1])


_VOID: int = _lib.GXDR_MSG_VOID
_RAW: int = _lib.GXDR_MSG_RAW
_DUMP_REQ: int = _lib.GXDR_MSG_DUMP_REQ
_DUMP_RSP: int = _lib.GXDR_MSG_DUMP_RSP
_COMMON_RSP: int = _lib.GXDR_MSG_COMMON_RSP
_GETSPEC_REQ: int = _lib.GXDR_MSG_GETSPEC_REQ
_GETSPEC_RSP: int = _lib.GXDR_MSG_GETSPEC_RSP
_EVENT_REQ: int = _lib.GXDR_MSG_EVENT_NOTIFY_REQ
_EVENT_RSP: int = _lib.GXDR_MSG_EVENT_NOTIFY_RSP
_VOLINFO_REQ: int = _lib.GXDR_MSG_GET_VOLUME_INFO_REQ
_VOLINFO_RSP: int = _lib.GXDR_MSG_GET_VOLUME_INFO_RSP
_PORTBYBRICK_REQ: int = _lib.GXDR_MSG_PORTBYBRICK_REQ
_PORTBYBRICK_RSP: int = _lib.GXDR_MSG_PORTBYBRICK_RSP
_SIGNIN_REQ: int = _lib.GXDR_MSG_SIGNIN_REQ
_SIGNIN_RSP: int = _lib.GXDR_MSG_SIGNIN_RSP
_SIGNOUT_REQ: int = _lib.GXDR_MSG_SIGNOUT_REQ
_SIGNOUT_RSP: int = _lib.GXDR_MSG_SIGNOUT_RSP

ENCODERS: dict[type, Encoder] = {
    DumpRequest: _enc_dump_req,
    DumpReply: _enc_dump_rsp,
    CommonReply: _enc_common_rsp,
    GetspecRequest: _enc_getspec_req,
    GetspecReply: _enc_getspec_rsp,
    EventNotifyRequest: _enc_event_req,
    EventNotifyReply: _enc_event_rsp,
    GetVolumeInfoRequest: _enc_volinfo_req,
    GetVolumeInfoReply: _enc_volinfo_rsp,
    PortByBrickRequest: _enc_portbybrick_req,
    PortByBrickReply: _enc_portbybrick_rsp,
    SigninRequest: _enc_signin_req,
    SigninReply: _enc_signin_rsp,
    SignoutRequest: _enc_signout_req,
    SignoutReply: _enc_signout_rsp,
}
"""Message type -> its encoder."""

DECODERS: dict[type, tuple[int, Decoder]] = {
    DumpRequest: (_DUMP_REQ, _get_dump_req),
    DumpReply: (_DUMP_RSP, _get_dump_rsp),
    CommonReply: (_COMMON_RSP, _get_common_rsp),
    GetspecRequest: (_GETSPEC_REQ, _get_getspec_req),
    GetspecReply: (_GETSPEC_RSP, _get_getspec_rsp),
    EventNotifyRequest: (_EVENT_REQ, _get_event_req),
    EventNotifyReply: (_EVENT_RSP, _get_event_rsp),
    GetVolumeInfoRequest: (_VOLINFO_REQ, _get_volinfo_req),
    GetVolumeInfoReply: (_VOLINFO_RSP, _get_volinfo_rsp),
    PortByBrickRequest: (_PORTBYBRICK_REQ, _get_portbybrick_req),
    PortByBrickReply: (_PORTBYBRICK_RSP, _get_portbybrick_rsp),
    SigninRequest: (_SIGNIN_REQ, _get_signin_req),
    SigninReply: (_SIGNIN_RSP, _get_signin_rsp),
    SignoutRequest: (_SIGNOUT_REQ, _get_signout_req),
    SignoutReply: (_SIGNOUT_RSP, _get_signout_rsp),
}
"""Message type -> (native message id, decoder)."""

DECODERS_BY_ID: dict[int, Decoder] = {msg_id: decode for msg_id, decode in DECODERS.values()}
"""Native message id -> decoder, for bodies whose type the native code chose (call arguments)."""

ENCODE_ERRORS = (AttributeError, TypeError, UnicodeEncodeError, struct.error)
"""What encoding a badly typed message raises; the public functions turn them into XdrError."""

_EMPTY = (_VOID, b"", b"")


def encode_body(message: Message | bytes | None) -> Encoded:
    """(native message id, values, blob) of a body: a message, raw XDR bytes, or None (void)."""
    if message is None:
        return _EMPTY
    encoder = ENCODERS.get(type(message))
    if encoder is not None:
        return encoder(message)
    if type(message) is bytes:
        return _RAW, _Q1.pack(len(message)), message
    raise XdrError(f"not a message this codec knows: {type(message).__name__}")


def encode_message(message: Message) -> bytes:
    """The XDR encoding of one body, without any RPC header."""
    try:
        msg_id, vals, blob = encode_body(message)
        vals = _Q1.pack(msg_id) + vals
    except ENCODE_ERRORS as exc:
        raise XdrError(f"encoding {type(message).__name__}: {exc}") from None
    return encode_native(_lib.gxdr_encode_body, vals, blob, type(message).__name__)


def decode_message(data: bytes | bytearray | memoryview, message_type: type[M]) -> M:
    """Decode data as exactly one message_type body; XdrError otherwise."""
    raw = data if type(data) is bytes else bytes(data)
    try:
        msg_id, decode = DECODERS[message_type]
    except KeyError:
        raise XdrError(f"not a message type this codec knows: {message_type!r}") from None
    slots = decode_native(_lib.gxdr_decode_body, raw, (0, msg_id), message_type.__name__)
    result: M = decode(slots, 0, raw)
    return result
