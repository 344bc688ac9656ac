"""A plain-Python XDR codec and record marker: the oracle for gd2.xdr's tests and benchmark.

Written straight from RFC 4506 and RFC 5531 §11, one item at a time, favouring obviousness over
speed. It shares no code with gd2.xdr (not even the format parser), so agreement means something.
"""

from __future__ import annotations

import re
import struct
from typing import Any

UNBOUNDED = 0xFFFFFFFF


class RefError(ValueError):
    """Invalid input or value for the reference codec."""


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


_ITEM = re.compile(r"(?:([IiQq?])|o\[([0-9]+)\]|([os])(?:<([0-9]*)>)?)")


def parse_format(fmt: str) -> list[tuple[str, int]]:
    """Items of a gd2.xdr format as (kind, bound): kind 'f' is a fixed opaque of length bound."""
    items: list[tuple[str, int]] = []
    pos = 0
    while True:
        while pos < len(fmt) and fmt[pos] in " \t":
            pos += 1
        if pos == len(fmt):
            return items
        m = _ITEM.match(fmt, pos)
        if m is None:
            raise RefError(f"bad format at {pos}: {fmt!r}")
        simple, fixed, var, bound = m.groups()
        if simple:
            items.append((simple, UNBOUNDED))
        elif fixed is not None:
            items.append(("f", _bound(fixed)))
        else:
            items.append((var, _bound(bound) if bound else UNBOUNDED))
        pos = m.end()


def _bound(digits: str) -> int:
    value = int(digits)
    if value > UNBOUNDED:
        raise RefError("bound too large")
    return value


class Packer:
    """Encodes one item per method call into a list of byte strings."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def getvalue(self) -> bytes:
        return b"".join(self._parts)

    def uint32(self, value: int) -> None:
        if not 0 <= value <= 0xFFFFFFFF:
            raise RefError("uint32 out of range")
        self._parts.append(struct.pack(">I", value))

    def int32(self, value: int) -> None:
        if not -(2**31) <= value < 2**31:
            raise RefError("int32 out of range")
        self._parts.append(struct.pack(">i", value))

    def uint64(self, value: int) -> None:
        if not 0 <= value < 2**64:
            raise RefError("uint64 out of range")
        self._parts.append(struct.pack(">Q", value))

    def int64(self, value: int) -> None:
        if not -(2**63) <= value < 2**63:
            raise RefError("int64 out of range")
        self._parts.append(struct.pack(">q", value))

    def boolean(self, value: bool) -> None:
        if value not in (0, 1):
            raise RefError("bool out of range")
        self.uint32(1 if value else 0)

    def fixed_opaque(self, data: bytes, length: int) -> None:
        if len(data) != length:
            raise RefError("fixed opaque length")
        self._parts.append(bytes(data) + b"\0" * _pad(length))

    def opaque(self, data: bytes, max_len: int = UNBOUNDED) -> None:
        if len(data) > max_len:
            raise RefError("opaque too long")
        self.uint32(len(data))
        self._parts.append(bytes(data) + b"\0" * _pad(len(data)))

    def string(self, text: str | bytes, max_len: int = UNBOUNDED) -> None:
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        self.opaque(data, max_len)

    def pack(self, fmt: str, *values: Any) -> None:
        items = parse_format(fmt)
        if len(items) != len(values):
            raise RefError("value count")
        for (kind, bound), value in zip(items, values, strict=True):
            _PACK[kind](self, value, bound)


_PACK = {
    "I": lambda p, v, b: p.uint32(v),
    "i": lambda p, v, b: p.int32(v),
    "Q": lambda p, v, b: p.uint64(v),
    "q": lambda p, v, b: p.int64(v),
    "?": lambda p, v, b: p.boolean(v),
    "f": lambda p, v, b: p.fixed_opaque(v, b),
    "o": lambda p, v, b: p.opaque(v, b),
    "s": lambda p, v, b: p.string(v, b),
}


class Unpacker:
    """Decodes one item per method call from bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def done(self) -> None:
        if self.remaining:
            raise RefError("trailing bytes")

    def _take(self, n: int) -> bytes:
        if n > self.remaining:
            raise RefError("truncated")
        data = self._data[self._pos : self._pos + n]
        self._pos += n
        return data

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self._take(4))[0]
        return value

    def int32(self) -> int:
        value: int = struct.unpack(">i", self._take(4))[0]
        return value

    def uint64(self) -> int:
        value: int = struct.unpack(">Q", self._take(8))[0]
        return value

    def int64(self) -> int:
        value: int = struct.unpack(">q", self._take(8))[0]
        return value

    def boolean(self) -> bool:
        value = self.uint32()
        if value > 1:
            raise RefError("bad bool")
        return value == 1

    def fixed_opaque(self, length: int) -> bytes:
        if length + _pad(length) > self.remaining:
            raise RefError("truncated")
        data = self._take(length)
        self._take(_pad(length))
        return data

    def opaque(self, max_len: int = UNBOUNDED) -> bytes:
        n = self.uint32()
        if n > max_len:
            raise RefError("opaque too long")
        return self.fixed_opaque(n)

    def string(self, max_len: int = UNBOUNDED) -> str:
        return self.opaque(max_len).decode("utf-8", "surrogateescape")

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """All or nothing, like gd2.xdr: on error the position does not move."""
        start = self._pos
        try:
            return tuple(_UNPACK[kind](self, bound) for kind, bound in parse_format(fmt))
        except RefError:
            self._pos = start
            raise


_UNPACK = {
    "I": lambda u, b: u.uint32(),
    "i": lambda u, b: u.int32(),
    "Q": lambda u, b: u.uint64(),
    "q": lambda u, b: u.int64(),
    "?": lambda u, b: u.boolean(),
    "f": lambda u, b: u.fixed_opaque(b),
    "o": lambda u, b: u.opaque(b),
    "s": lambda u, b: u.string(b),
}

LAST_FRAGMENT = 0x80000000
MAX_FRAGMENT = 0x7FFFFFFF


def encode_record(payload: bytes, max_fragment: int = MAX_FRAGMENT) -> bytes:
    """Fragments of at most max_fragment bytes, the last one flagged; empty payload: one header."""
    if not 1 <= max_fragment <= MAX_FRAGMENT:
        raise RefError("max_fragment")
    pieces = [payload[i : i + max_fragment] for i in range(0, len(payload), max_fragment)] or [b""]
    out = []
    for index, piece in enumerate(pieces):
        flag = LAST_FRAGMENT if index == len(pieces) - 1 else 0
        out.append(struct.pack(">I", flag | len(piece)) + piece)
    return b"".join(out)


class Reassembler:
    """Buffers the whole stream and cuts records out of it."""

    def __init__(self, max_record: int) -> None:
        self.max_record = max_record
        self._buffer = b""
        self._record = b""
        self._in_record = False  # a fragment without the last bit was consumed
        self._broken = False

    @property
    def at_boundary(self) -> bool:
        return not self._buffer and not self._in_record

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._broken:
            raise RefError("broken stream")
        self._buffer += chunk
        records = []
        while len(self._buffer) >= 4:
            (header,) = struct.unpack(">I", self._buffer[:4])
            length = header & MAX_FRAGMENT
            if len(self._record) + length > self.max_record:
                self._broken = True
                raise RefError("record too large")
            if len(self._buffer) < 4 + length:
                break
            self._record += self._buffer[4 : 4 + length]
            self._buffer = self._buffer[4 + length :]
            self._in_record = not header & LAST_FRAGMENT
            if not self._in_record:
                records.append(self._record)
                self._record = b""
        return records


# ---- RPC messages, GlusterFS management bodies and the glusterfs dict -----------------------------
#
# Written from RFC 5531 and GLUSTER_PROTOCOL.md §1-§5, one item at a time with Packer/Unpacker. The
# message types are gd2.xdr's dataclasses so results compare directly; no codec logic is shared
# (the program table, the layouts and the dict format are all restated here).

from gd2.xdr import messages as _m  # noqa: E402
from gd2.xdr import rpc as _rpc  # noqa: E402

MAX_AUTH = 400


def pack_dict(p: Packer, data: dict[str, bytes]) -> None:
    """A dict inside an opaque<>: zero length when empty."""
    p.opaque(serialize_dict(data))


def serialize_dict(data: dict[str, bytes]) -> bytes:
    if not data:
        return b""
    out = [struct.pack(">I", len(data))]
    for key, value in data.items():
        raw = key.encode("utf-8", "surrogateescape")
        if b"\0" in raw:
            raise RefError("NUL in dict key")
        if not isinstance(value, bytes):
            raise RefError("dict value not bytes")
        out.append(struct.pack(">II", len(raw), len(value)) + raw + b"\0" + value)
    return b"".join(out)


def unserialize_dict(blob: bytes) -> dict[str, bytes]:
    if not blob:
        return {}
    if len(blob) < 4:
        raise RefError("dict header truncated")
    (count,) = struct.unpack(">I", blob[:4])
    pos, result = 4, {}
    for _ in range(count):
        if len(blob) - pos < 8:
            raise RefError("dict pair header truncated")
        keylen, vallen = struct.unpack(">II", blob[pos : pos + 8])
        pos += 8
        if pos + keylen + 1 + vallen > len(blob):
            raise RefError("dict pair truncated")
        key = blob[pos : pos + keylen]
        if b"\0" in key or blob[pos + keylen] != 0:
            raise RefError("dict key not NUL-terminated")
        result[key.decode("utf-8", "surrogateescape")] = blob[pos + keylen + 1 : pos + keylen + 1 + vallen]
        pos += keylen + 1 + vallen
    if pos != len(blob):
        raise RefError("bytes after the dict")
    return result


def pack_body(p: Packer, msg: Any) -> None:
    if msg is None:
        return
    if isinstance(msg, bytes):
        p._parts.append(msg)
        return
    if isinstance(msg, _m.DumpRequest):
        p.uint64(msg.gfs_id)
    elif isinstance(msg, _m.DumpReply):
        p.uint64(msg.gfs_id)
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
        for prog in msg.programs:
            p.boolean(True)
            p.string(prog.name)
            p.uint64(prog.number)
            p.uint64(prog.version)
        p.boolean(False)
    elif isinstance(msg, _m.CommonReply):
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
        pack_dict(p, msg.xdata)
    elif isinstance(msg, _m.GetspecRequest):
        p.uint32(msg.flags)
        p.string(msg.key)
        pack_dict(p, msg.xdata)
    elif isinstance(msg, _m.GetspecReply):
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
        p.string(msg.spec)
        pack_dict(p, msg.xdata)
    elif isinstance(msg, _m.EventNotifyRequest):
        p.int32(msg.op)
        pack_dict(p, msg.data)
    elif isinstance(msg, _m.EventNotifyReply):
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
        pack_dict(p, msg.data)
    elif isinstance(msg, _m.GetVolumeInfoRequest):
        pack_dict(p, msg.data)
    elif isinstance(msg, _m.GetVolumeInfoReply):
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
        p.string(msg.op_errstr)
        pack_dict(p, msg.data)
    elif isinstance(msg, _m.PortByBrickRequest):
        p.string(msg.brick)
    elif isinstance(msg, _m.PortByBrickReply):
        for value in (msg.op_ret, msg.op_errno, msg.status, msg.port):
            p.int32(value)
    elif isinstance(msg, _m.SigninRequest):
        p.string(msg.brick)
        p.int32(msg.port)
        p.int32(msg.pid)
    elif isinstance(msg, _m.SignoutRequest):
        p.string(msg.brick)
        p.int32(msg.port)
        p.int32(msg.rdma_port)
    elif isinstance(msg, _m.SigninReply | _m.SignoutReply):
        p.int32(msg.op_ret)
        p.int32(msg.op_errno)
    else:
        raise RefError(f"unknown message {type(msg).__name__}")


def unpack_body(u: Unpacker, cls: Any) -> Any:
    """Decode a cls body that must fill the rest of u."""
    if cls is None:
        msg = None
    elif cls is _m.DumpRequest:
        msg = cls(u.uint64())
    elif cls is _m.DumpReply:
        gfs_id, op_ret, op_errno = u.uint64(), u.int32(), u.int32()
        programs = []
        while u.boolean():
            programs.append(_m.ProgDetail(u.string(), u.uint64(), u.uint64()))
        msg = cls(gfs_id, op_ret, op_errno, tuple(programs))
    elif cls is _m.CommonReply or cls is _m.EventNotifyReply:
        msg = cls(u.int32(), u.int32(), unserialize_dict(u.opaque()))
    elif cls is _m.GetspecRequest:
        msg = cls(u.uint32(), u.string(), unserialize_dict(u.opaque()))
    elif cls is _m.GetspecReply or cls is _m.GetVolumeInfoReply:
        msg = cls(u.int32(), u.int32(), u.string(), unserialize_dict(u.opaque()))
    elif cls is _m.EventNotifyRequest:
        msg = cls(u.int32(), unserialize_dict(u.opaque()))
    elif cls is _m.GetVolumeInfoRequest:
        msg = cls(unserialize_dict(u.opaque()))
    elif cls is _m.PortByBrickRequest:
        msg = cls(u.string())
    elif cls is _m.PortByBrickReply:
        msg = cls(u.int32(), u.int32(), u.int32(), u.int32())
    elif cls is _m.SigninRequest or cls is _m.SignoutRequest:
        msg = cls(u.string(), u.int32(), u.int32())
    elif cls is _m.SigninReply or cls is _m.SignoutReply:
        msg = cls(u.int32(), u.int32())
    else:
        raise RefError(f"unknown message {cls}")
    u.done()
    return msg


# (prog, vers, proc) -> argument type; None = void. Anything else is left raw.
CALL_ARGS: dict[tuple[int, int, int], Any] = {
    (123451501, 1, 0): None,
    (123451501, 1, 1): _m.DumpRequest,
    (123451501, 1, 2): None,
    (14398633, 2, 0): None,
    (14398633, 2, 2): _m.GetspecRequest,
    (14398633, 2, 5): _m.EventNotifyRequest,
    (14398633, 2, 6): _m.GetVolumeInfoRequest,
    (34123456, 1, 0): None,
    (34123456, 1, 1): _m.PortByBrickRequest,
    (34123456, 1, 4): _m.SigninRequest,
    (34123456, 1, 5): _m.SignoutRequest,
    (52743234, 1, 1): None,
}


def encode_call(call: Any) -> bytes:
    p = Packer()
    p.uint32(call.xid)
    p.uint32(0)
    for value in (call.rpcvers, call.prog, call.vers, call.proc, call.cred_flavor):
        p.uint32(value)
    p.opaque(call.cred, MAX_AUTH)
    p.uint32(call.verf_flavor)
    p.opaque(call.verf, MAX_AUTH)
    pack_body(p, call.args)
    return encode_record(p.getvalue())


def decode_call(record: bytes) -> Any:
    u = Unpacker(record)
    xid = u.uint32()
    if u.uint32() != 0:
        raise RefError("not a call")
    rpcvers = u.uint32()
    if rpcvers != 2:
        return _rpc.RpcCall(xid, 0, 0, 0, record[12:], rpcvers=rpcvers)
    prog, vers, proc, cred_flavor = u.uint32(), u.uint32(), u.uint32(), u.uint32()
    cred = u.opaque(MAX_AUTH)
    verf_flavor = u.uint32()
    verf = u.opaque(MAX_AUTH)
    start = len(record) - u.remaining
    raw = record[start:]
    error = ""
    if (prog, vers, proc) in CALL_ARGS:
        try:
            args = unpack_body(u, CALL_ARGS[prog, vers, proc])
        except RefError as exc:
            args, error = raw, str(exc)
    else:
        args = raw
    return _rpc.RpcCall(xid, prog, vers, proc, args, cred_flavor, cred, verf_flavor, verf, rpcvers, error)


def encode_reply(reply: Any) -> bytes:
    p = Packer()
    p.uint32(reply.xid)
    p.uint32(1)
    p.uint32(reply.reply_stat)
    if reply.reply_stat == 0:
        p.uint32(reply.verf_flavor)
        p.opaque(reply.verf, MAX_AUTH)
        p.uint32(reply.accept_stat)
        if reply.accept_stat == 2:
            p.uint32(reply.mismatch_low)
            p.uint32(reply.mismatch_high)
        elif reply.accept_stat == 0:
            pack_body(p, reply.result)
    else:
        p.uint32(reply.reject_stat)
        if reply.reject_stat == 0:
            p.uint32(reply.mismatch_low)
            p.uint32(reply.mismatch_high)
        else:
            p.uint32(reply.auth_stat)
    return encode_record(p.getvalue())


def decode_reply(record: bytes, result_type: Any) -> Any:
    u = Unpacker(record)
    xid = u.uint32()
    if u.uint32() != 1:
        raise RefError("not a reply")
    reply_stat = u.uint32()
    if reply_stat == 1:
        reject_stat = u.uint32()
        if reject_stat == 0:
            low, high = u.uint32(), u.uint32()
            u.done()
            return _rpc.RpcReply(xid, None, 1, 0, 0, low, high)
        if reject_stat == 1:
            auth_stat = u.uint32()
            u.done()
            return _rpc.RpcReply(xid, None, 1, 0, 1, auth_stat=auth_stat)
        raise RefError("bad reject_stat")
    if reply_stat != 0:
        raise RefError("bad reply_stat")
    verf_flavor = u.uint32()
    verf = u.opaque(MAX_AUTH)
    accept_stat = u.uint32()
    if accept_stat > 5:
        raise RefError("bad accept_stat")
    low = high = 0
    if accept_stat == 2:
        low, high = u.uint32(), u.uint32()
    result = None
    if accept_stat == 0:
        result = u._take(u.remaining) if result_type is bytes else unpack_body(u, result_type)
    u.done()
    return _rpc.RpcReply(xid, result, 0, accept_stat, 0, low, high, 0, verf_flavor, verf)


def encode_success(xid: int, result: Any) -> bytes:
    """An accepted SUCCESS reply with an AUTH_NONE verifier."""
    p = Packer()
    for value in (xid, 1, 0, 0, 0, 0):  # xid, REPLY, MSG_ACCEPTED, verf AUTH_NONE + length 0, SUCCESS
        p.uint32(value)
    pack_body(p, result)
    return encode_record(p.getvalue())
