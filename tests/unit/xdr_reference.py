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
