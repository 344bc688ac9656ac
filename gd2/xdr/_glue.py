"""What the message facade does around its one native call per message.

A cffi call costs about as much as encoding a small message in C, and so does building a frozen
dataclass the ordinary way, so the facade keeps its own overhead down with three tools:

* reused native arrays: the native code writes decoded slots and encoded records into memory
  taken from small free lists, not allocated per call;
* values handed over as one ``bytes`` of native int64 (struct), which cffi passes as a pointer,
  where a list would be converted element by element;
* ``fast_constructor``: frozen dataclasses built without their generated ``__init__``.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from gd2.xdr._xdr_native import ffi as _ffi
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import status_error

T = TypeVar("T")

NO_SPACE: int = _lib.GXDR_E_NO_SPACE

# Buffers and slot arrays over these sizes are used once and dropped rather than pooled, so that one
# huge volfile does not pin megabytes for the life of the process.
_KEEP_BUFFER = 256 * 1024
_KEEP_SLOTS = 64 * 1024

_new_uncleared = _ffi.new_allocator(should_clear_after_alloc=False)


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A builder for the frozen, slotted dataclass cls taking every field positionally.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which costs
    four times a plain slot store, and decoding builds one or two objects per message. The builder
    is a plain class with the same slots whose ``__init__`` stores the fields and then switches
    the instance's class to cls, which CPython allows between identical layouts. The result is an
    ordinary instance of cls: frozen, and equal to (and hashed as) one built by cls().
    The ``__init__`` is generated, as dataclasses generates its own.
    """
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    slots = getattr(cls, "__slots__", None)
    if slots != tuple(names) or not all(name.isidentifier() for name in names):
        raise TypeError(f"{cls.__name__} must be a slotted dataclass")
    source = f"def __init__(self, {', '.join(names)}):\n"
    source += "".join(f"    self.{name} = {name}\n" for name in names)
    source += "    self.__class__ = cls\n"
    namespace: dict[str, Any] = {"cls": cls}
    exec(source, namespace)
    builder = type(f"_{cls.__name__}Builder", (), {"__slots__": slots, "__init__": namespace["__init__"]})
    probe = builder(*([None] * len(names)))  # fails here, at import, if the layouts ever differ
    if type(probe) is not cls:
        raise TypeError(f"{cls.__name__}: fast constructor does not build it")
    built: Callable[..., T] = builder
    return built


_structs: dict[int, struct.Struct] = {}


def int64s(count: int) -> struct.Struct:
    """The struct of count native int64s (cached for the small counts messages use)."""
    packer = _structs.get(count)
    if packer is None:
        packer = struct.Struct(f"={count}q")
        if len(_structs) < 512:
            _structs[count] = packer
    return packer


def pack_values(values: list[int]) -> bytes:
    """values as native int64s, the form the gxdr_encode_* functions take."""
    return int64s(len(values)).pack(*values)


class _Slots:
    """A native array for decoded slots, with a byte view of it for struct."""

    __slots__ = ("array", "count", "view")

    def __init__(self, count: int) -> None:
        self.array: Any = _ffi.new("uint64_t[]", count)
        self.count = count
        self.view: Any = _ffi.buffer(self.array)


class _Buffer:
    """A native output buffer, with a memoryview of it."""

    __slots__ = ("array", "size", "view")

    def __init__(self, size: int) -> None:
        self.array: Any = _new_uncleared("uint8_t[]", size)
        self.size = size
        self.view: Any = memoryview(_ffi.buffer(self.array))


# Free lists rather than one global array: cffi releases the GIL during a call, so two threads
# could otherwise share one. list.pop and list.append are atomic, and cheaper than threading.local.
_slot_pool: list[_Slots] = []
_buffer_pool: list[_Buffer] = []
_DEFAULT_SLOTS = 512
_DEFAULT_BUFFER = 8192
_POOL = 8


def encode_native(function: Any, vals: bytes, blob: bytes, what: str) -> bytes:
    """Run a gxdr_encode_* function over vals (native int64s) and blob; return what it wrote."""
    nvals = len(vals) >> 3
    # Every value encodes to at most 12 bytes beyond the blob (a dict pair: two lengths and a NUL
    # plus padding); the native code checks the room anyway.
    need = 64 + 12 * nvals + len(blob)
    try:
        buf = _buffer_pool.pop()
    except IndexError:
        buf = _Buffer(_DEFAULT_BUFFER)
    if buf.size < need:
        buf = _Buffer(max(need, 2 * buf.size))
    written: int = function(buf.array, buf.size, vals, nvals, blob, len(blob))
    data: bytes = buf.view[:written].tobytes() if written >= 0 else b""
    if buf.size <= _KEEP_BUFFER and len(_buffer_pool) < _POOL:
        _buffer_pool.append(buf)
    if written < 0:
        raise status_error(written, f"encoding {what}")
    return data


def decode_native(function: Any, data: bytes, args: tuple[int, ...], what: str) -> tuple[int, ...]:
    """Run a gxdr_decode_* function, ``function(data, len(data), *args, slots, nslots)``, and
    return the slots it wrote (retrying once with the room it asks for)."""
    try:
        slots = _slot_pool.pop()
    except IndexError:
        slots = _Slots(_DEFAULT_SLOTS)
    count: int = function(data, len(data), *args, slots.array, slots.count)
    if count == NO_SPACE:
        slots = _Slots(max(int(slots.array[0]), 2 * slots.count))
        count = function(data, len(data), *args, slots.array, slots.count)
    result = (_structs.get(count) or int64s(count)).unpack_from(slots.view) if count >= 0 else ()
    if slots.count <= _KEEP_SLOTS and len(_slot_pool) < _POOL:
        _slot_pool.append(slots)
    if count < 0:
        raise status_error(count, f"decoding {what}")
    return result
