"""XDR (RFC 4506) encoder and decoder over the native codec.

Every foreign call costs far more than encoding one integer, so both classes are built around
``pack``/``unpack``, which handle a whole sequence of items (see gd2.xdr._format for the format
language) in one native call; the per-type methods are conveniences for one item at a time.

Strings are ``str`` on the Python side and UTF-8 on the wire, with surrogateescape so that any
bytes a peer sends (a brick path is just bytes) decode and re-encode unchanged; ``bytes`` are also
accepted when encoding a string.
"""

from __future__ import annotations

from typing import Any

from gd2.xdr._format import FIX_BOOL, FIX_OPAQUE, FIX_SIGNED, FIX_STRING, compile_format
from gd2.xdr._xdr_native import ffi as _ffi
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError, status_error

UNBOUNDED = 0xFFFFFFFF
"""Maximum length of an ``opaque<>`` or ``string<>`` without a declared bound."""

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MASK = (1 << 64) - 1
_SIGN_BIT = 1 << 63
_WRAP = 1 << 64
_BYTES_LIKE = (bytes, bytearray, memoryview)

BytesLike = bytes | bytearray | memoryview


def _bounded(code: str, max_len: int) -> str:
    if not 0 <= max_len <= UNBOUNDED:
        raise XdrError(f"maximum length {max_len} out of range")
    return code if max_len == UNBOUNDED else f"{code}<{max_len}>"


class XdrEncoder:
    """Appends XDR items to a growing buffer; ``getvalue()`` returns the bytes so far.

    A call that raises XdrError leaves the buffer as it was. Not safe to share between threads.
    """

    __slots__ = ("_buf", "_cap", "_pos")

    def __init__(self, size_hint: int = 256) -> None:
        self._cap = max(size_hint, 16)
        self._buf = _ffi.new("uint8_t[]", self._cap)
        self._pos = 0

    def __len__(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        """The encoded bytes so far."""
        return bytes(_ffi.buffer(self._buf, self._pos))

    def pack(self, fmt: str, *values: Any) -> None:
        """Append one value per item of fmt, e.g. ``pack("IIo<400>s", xid, 0, cred, key)``.

        Integers are ints (bools accepted), ``?`` takes a bool, opaques take bytes-like objects
        and strings take str (or bytes). Raises XdrError for a malformed format, a wrong number
        of values, a value of the wrong type, out of range or over its maximum length.
        """
        plan = compile_format(fmt)
        if len(values) != plan.count:
            raise XdrError(f"format {fmt!r} takes {plan.count} values, got {len(values)}")
        blob = b""
        ints: Any = values
        if plan.encode_fixes:
            ints = list(values)
            parts: list[BytesLike] = []
            try:
                for index, fix in plan.encode_fixes:
                    value = values[index]
                    if fix == FIX_SIGNED:
                        if not _INT64_MIN <= value <= _INT64_MAX:
                            raise XdrError(f"encoding {fmt!r}: value out of range for its type")
                        ints[index] = value & _UINT64_MASK
                    elif fix == FIX_BOOL:
                        if type(value) is not bool and not (type(value) is int and value in (0, 1)):
                            raise XdrError(f"encoding {fmt!r}: bool value {value!r} is not 0 or 1")
                        ints[index] = int(value)
                    else:
                        data = _item_bytes(value, fix)
                        parts.append(data)
                        ints[index] = len(data)
            except TypeError as exc:
                raise XdrError(f"encoding {fmt!r}: {exc}") from None
            blob = b"".join(parts)
        # Grow first so that the native call (which checks again) does not fail for room.
        need = self._pos + plan.overhead + len(blob)
        if need > self._cap:
            self._grow(need)
        try:
            pos = _lib.gxdr_pack(
                self._buf, self._cap, self._pos, plan.cfmt, ints, len(ints), blob, len(blob), _ffi.NULL
            )
        except OverflowError:
            raise XdrError(f"encoding {fmt!r}: value out of range for its type") from None
        except TypeError as exc:
            raise XdrError(f"encoding {fmt!r}: {exc}") from None
        if pos < 0:
            raise status_error(pos, f"encoding {fmt!r}")
        self._pos = pos

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._cap)
        buf = _ffi.new("uint8_t[]", cap)
        _ffi.memmove(buf, self._buf, self._pos)
        self._buf = buf
        self._cap = cap

    def uint32(self, value: int) -> None:
        """Append an ``unsigned int``."""
        self.pack("I", value)

    def int32(self, value: int) -> None:
        """Append an ``int``."""
        self.pack("i", value)

    def uint64(self, value: int) -> None:
        """Append an ``unsigned hyper``."""
        self.pack("Q", value)

    def int64(self, value: int) -> None:
        """Append a ``hyper``."""
        self.pack("q", value)

    def boolean(self, value: bool) -> None:
        """Append a ``bool``."""
        self.pack("?", value)

    def fixed_opaque(self, data: BytesLike, length: int) -> None:
        """Append an ``opaque[length]``; data must be exactly that long."""
        if length < 0 or length > UNBOUNDED:
            raise XdrError(f"fixed length {length} out of range")
        self.pack(f"o[{length}]", data)

    def opaque(self, data: BytesLike, max_len: int = UNBOUNDED) -> None:
        """Append an ``opaque<max_len>``."""
        self.pack(_bounded("o", max_len), data)

    def string(self, text: str | bytes, max_len: int = UNBOUNDED) -> None:
        """Append a ``string<max_len>``; max_len counts encoded bytes."""
        self.pack(_bounded("s", max_len), text)


def _item_bytes(value: Any, fix: int) -> BytesLike:
    if fix == FIX_STRING and isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise XdrError(f"string not encodable: {exc}") from None
    if isinstance(value, memoryview) and not (value.c_contiguous and value.nbytes == len(value)):
        # len() of a memoryview counts items, not bytes, and join() needs contiguous memory.
        return value.tobytes()
    if isinstance(value, _BYTES_LIKE):
        return value
    what = "string" if fix == FIX_STRING else "opaque"
    raise XdrError(f"{what} value must be bytes-like, not {type(value).__name__}")


class XdrDecoder:
    """Reads XDR items from bytes, front to back.

    A call that raises XdrError does not move the position. Not safe to share between threads.
    """

    __slots__ = ("_data", "_len", "_out", "_pos")

    def __init__(self, data: BytesLike) -> None:
        # Opaques come back as slices of bytes, so hold bytes (and the native code reads them
        # without a copy).
        self._data = data if type(data) is bytes else bytes(data)
        self._len = len(self._data)
        self._pos = 0
        self._out: Any = None

    @property
    def offset(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    @property
    def remaining(self) -> int:
        """Bytes not consumed yet."""
        return self._len - self._pos

    def done(self) -> None:
        """Raise XdrError if any bytes are left: a message must be consumed exactly."""
        if self._pos != self._len:
            raise XdrError(f"{self._len - self._pos} unexpected bytes after the message")

    def rest(self) -> bytes:
        """Consume and return the bytes not read yet (procedure arguments after an RPC header)."""
        data = self._data[self._pos :]
        self._pos = self._len
        return data

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        """Read the items of fmt and return one value per item, e.g. ``xid, mtype = unpack("II")``.

        Integers come back as int, ``?`` as bool, opaques as bytes, strings as str. Raises
        XdrError on truncated input, a length over its maximum or a bool other than 0/1.
        """
        plan = compile_format(fmt)
        out = self._out
        if out is None or len(out) < plan.slots:
            out = self._out = _ffi.new("uint64_t[]", max(plan.slots, 32))
        pos = _lib.gxdr_unpack(self._data, self._len, self._pos, plan.cfmt, out, plan.slots)
        if pos < 0:
            raise status_error(pos, f"decoding {fmt!r} at offset {self._pos}")
        self._pos = pos
        slots: list[Any] = _ffi.unpack(out, plan.slots)
        data = self._data
        for slot, fix in plan.decode_fixes:
            if fix == FIX_OPAQUE:
                start = slots[slot]
                slots[slot] = data[start : start + slots[slot + 1]]
            elif fix == FIX_STRING:
                start = slots[slot]
                slots[slot] = data[start : start + slots[slot + 1]].decode("utf-8", "surrogateescape")
            elif fix == FIX_SIGNED:
                if slots[slot] & _SIGN_BIT:
                    slots[slot] -= _WRAP
            else:
                slots[slot] = slots[slot] == 1
        return plan.pick(slots)

    def uint32(self) -> int:
        """Read an ``unsigned int``."""
        value: int = self.unpack("I")[0]
        return value

    def int32(self) -> int:
        """Read an ``int``."""
        value: int = self.unpack("i")[0]
        return value

    def uint64(self) -> int:
        """Read an ``unsigned hyper``."""
        value: int = self.unpack("Q")[0]
        return value

    def int64(self) -> int:
        """Read a ``hyper``."""
        value: int = self.unpack("q")[0]
        return value

    def boolean(self) -> bool:
        """Read a ``bool``; anything but 0 or 1 is an XdrError."""
        value: bool = self.unpack("?")[0]
        return value

    def fixed_opaque(self, length: int) -> bytes:
        """Read an ``opaque[length]``."""
        if length < 0 or length > UNBOUNDED:
            raise XdrError(f"fixed length {length} out of range")
        value: bytes = self.unpack(f"o[{length}]")[0]
        return value

    def opaque(self, max_len: int = UNBOUNDED) -> bytes:
        """Read an ``opaque<max_len>``."""
        value: bytes = self.unpack(_bounded("o", max_len))[0]
        return value

    def string(self, max_len: int = UNBOUNDED) -> str:
        """Read a ``string<max_len>``; max_len counts encoded bytes."""
        value: str = self.unpack(_bounded("s", max_len))[0]
        return value
