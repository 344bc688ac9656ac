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

from gd2.xdr._format import compile_format
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
# Encoder memory past the write position is never read, so clearing it is wasted work.
_new_uncleared = _ffi.new_allocator(should_clear_after_alloc=False)

BytesLike = bytes | bytearray | memoryview


def _value_error(what: str, exc: Exception) -> XdrError:
    if isinstance(exc, OverflowError):
        return XdrError(f"encoding {what}: value out of range for its type")
    return XdrError(f"encoding {what}: {exc}")


class XdrEncoder:
    """Appends XDR items to a growing buffer; ``getvalue()`` returns the bytes so far.

    A call that raises XdrError leaves the buffer as it was. Not safe to share between threads.
    """

    __slots__ = ("_buf", "_cap", "_pos")

    def __init__(self, size_hint: int = 1024) -> None:
        self._cap = max(size_hint, 16)
        self._buf = _new_uncleared("uint8_t[]", self._cap)
        self._pos = 0

    def __len__(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        """The encoded bytes so far."""
        data: bytes = _ffi.buffer(self._buf, self._pos)[:]
        return data

    def pack(self, fmt: str, *values: Any) -> None:
        """Append one value per item of fmt, e.g. ``pack("IIo<400>s", xid, 0, cred, key)``.

        Integers are ints (bools accepted), ``?`` takes a bool, opaques take bytes-like objects
        and strings take str (or bytes). Raises XdrError for a malformed format, a wrong number
        of values, a value of the wrong type, out of range or over its maximum length.
        """
        plan = compile_format(fmt)
        if len(values) != plan.count:
            raise XdrError(f"format {fmt!r} takes {plan.count} values, got {len(values)}")
        ints: Any = values
        blob = b""
        try:
            if plan.signed or plan.bools or plan.blobs:
                ints = list(values)
                for index in plan.signed:
                    value = values[index]
                    if not _INT64_MIN <= value <= _INT64_MAX:
                        raise OverflowError
                    ints[index] = value & _UINT64_MASK
                for index in plan.bools:
                    value = values[index]
                    if type(value) is not bool and not (type(value) is int and value in (0, 1)):
                        raise XdrError(f"encoding {fmt!r}: bool value {value!r} is not 0 or 1")
                if plan.blobs:
                    parts: list[BytesLike] = []
                    for index, is_string in plan.blobs:
                        value = values[index]
                        if type(value) is not bytes:
                            if is_string and type(value) is str:
                                value = value.encode("utf-8", "surrogateescape")
                            else:
                                value = _item_bytes(value, is_string)
                        parts.append(value)
                        ints[index] = len(value)
                    blob = b"".join(parts)
            # Grow first so that the native call (which checks again) does not fail for room.
            if self._pos + plan.overhead + len(blob) > self._cap:
                self._grow(self._pos + plan.overhead + len(blob))
            pos = _lib.gxdr_pack(
                self._buf, self._cap, self._pos, plan.cfmt, ints, len(ints), blob, len(blob), _ffi.NULL
            )
        except (OverflowError, TypeError, UnicodeEncodeError) as exc:
            raise _value_error(repr(fmt), exc) from None
        if pos < 0:
            raise status_error(pos, f"encoding {fmt!r}")
        self._pos = pos

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._cap)
        buf = _new_uncleared("uint8_t[]", cap)
        _ffi.memmove(buf, self._buf, self._pos)
        self._buf = buf
        self._cap = cap

    # The single-item methods call the typed native functions directly: cheaper than going
    # through a format for one item.

    def _put(self, put: Any, size: int, what: str, *args: Any) -> None:
        if self._cap - self._pos < size:
            self._grow(self._pos + size)
        try:
            pos = put(self._buf, self._cap, self._pos, *args)
        except (OverflowError, TypeError) as exc:
            raise _value_error(what, exc) from None
        if pos < 0:
            raise status_error(pos, f"encoding {what}")
        self._pos = pos

    def uint32(self, value: int) -> None:
        """Append an ``unsigned int``."""
        self._put(_lib.gxdr_put_u32, 4, "unsigned int", value)

    def int32(self, value: int) -> None:
        """Append an ``int``."""
        self._put(_lib.gxdr_put_i32, 4, "int", value)

    def uint64(self, value: int) -> None:
        """Append an ``unsigned hyper``."""
        self._put(_lib.gxdr_put_u64, 8, "unsigned hyper", value)

    def int64(self, value: int) -> None:
        """Append a ``hyper``."""
        self._put(_lib.gxdr_put_i64, 8, "hyper", value)

    def boolean(self, value: bool) -> None:
        """Append a ``bool``."""
        checked: object = value  # callers without type checking pass anything
        if type(checked) is not bool and not (type(checked) is int and checked in (0, 1)):
            raise XdrError(f"encoding bool: value {value!r} is not 0 or 1")
        self._put(_lib.gxdr_put_bool, 4, "bool", value)

    def fixed_opaque(self, data: BytesLike, length: int) -> None:
        """Append an ``opaque[length]``; data must be exactly that long."""
        data = bytes(_item_bytes(data, False))
        if len(data) != length:
            raise XdrError(f"encoding opaque[{length}]: fixed opaque of the wrong length {len(data)}")
        self._put(_lib.gxdr_put_fixed, length + 3, "fixed opaque", data, length)

    def opaque(self, data: BytesLike, max_len: int = UNBOUNDED) -> None:
        """Append an ``opaque<max_len>``."""
        data = bytes(_item_bytes(data, False))
        self._put(_lib.gxdr_put_opaque, len(data) + 7, "opaque", data, len(data), _bound(max_len))

    def string(self, text: str | bytes, max_len: int = UNBOUNDED) -> None:
        """Append a ``string<max_len>``; max_len counts encoded bytes."""
        data = bytes(_item_bytes(text, True))
        self._put(_lib.gxdr_put_opaque, len(data) + 7, "string", data, len(data), _bound(max_len))


def _bound(max_len: int) -> int:
    if not 0 <= max_len <= UNBOUNDED:
        raise XdrError(f"maximum length {max_len} out of range")
    return max_len


def _item_bytes(value: Any, is_string: bool) -> BytesLike:
    if is_string and isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise XdrError(f"string not encodable: {exc}") from None
    if isinstance(value, memoryview) and not (value.c_contiguous and value.nbytes == len(value)):
        # len() of a memoryview counts items, not bytes, and join() needs contiguous memory.
        return value.tobytes()
    if isinstance(value, bytes | bytearray | memoryview):
        return value
    what = "string" if is_string else "opaque"
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
        for slot, is_string in plan.blob_slots:
            start = slots[slot]
            piece = data[start : start + slots[slot + 1]]
            slots[slot] = piece.decode("utf-8", "surrogateescape") if is_string else piece
        for slot in plan.signed_slots:
            if slots[slot] & _SIGN_BIT:
                slots[slot] -= _WRAP
        for slot in plan.bool_slots:
            slots[slot] = slots[slot] == 1
        return plan.pick(slots)

    # The single-item methods skip the format cache and result assembly of unpack: for one item
    # those cost more than the native call itself.

    def _item(self, cfmt: bytes, what: str) -> int:
        out = self._out
        if out is None:
            out = self._out = _ffi.new("uint64_t[]", 32)
        pos = _lib.gxdr_unpack(self._data, self._len, self._pos, cfmt, out, 2)
        if pos < 0:
            raise status_error(pos, f"decoding {what} at offset {self._pos}")
        self._pos = pos
        value: int = out[0]
        return value

    def _blob(self, cfmt: bytes, what: str) -> bytes:
        start = self._item(cfmt, what)
        return self._data[start : start + self._out[1]]

    def uint32(self) -> int:
        """Read an ``unsigned int``."""
        return self._item(b"I", "unsigned int")

    def int32(self) -> int:
        """Read an ``int``."""
        value = self._item(b"i", "int")
        return value - _WRAP if value & _SIGN_BIT else value

    def uint64(self) -> int:
        """Read an ``unsigned hyper``."""
        return self._item(b"Q", "unsigned hyper")

    def int64(self) -> int:
        """Read a ``hyper``."""
        value = self._item(b"q", "hyper")
        return value - _WRAP if value & _SIGN_BIT else value

    def boolean(self) -> bool:
        """Read a ``bool``; anything but 0 or 1 is an XdrError."""
        return self._item(b"?", "bool") == 1

    def fixed_opaque(self, length: int) -> bytes:
        """Read an ``opaque[length]``."""
        if not 0 <= length <= UNBOUNDED:
            raise XdrError(f"fixed length {length} out of range")
        return self._blob(b"o[%d]" % length, f"opaque[{length}]")

    def opaque(self, max_len: int = UNBOUNDED) -> bytes:
        """Read an ``opaque<max_len>``."""
        return self._blob(b"o<%d>" % _bound(max_len), "opaque")

    def string(self, max_len: int = UNBOUNDED) -> str:
        """Read a ``string<max_len>``; max_len counts encoded bytes."""
        return self._blob(b"s<%d>" % _bound(max_len), "string").decode("utf-8", "surrogateescape")
