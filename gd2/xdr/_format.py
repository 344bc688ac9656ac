"""Format strings of the XDR codec, compiled once into what the facade does around a native call.

The grammar is parsed by the native code (gxdr_format_compile), so the facade and the codec cannot
disagree on it. Items (spaces are ignored):

    I  unsigned int     i  int      Q  unsigned hyper     q  hyper     ?  bool
    o  opaque<>         o<N>  opaque<N>                   o[N]  opaque[N] (fixed length)
    s  string<>         s<N>  string<N>
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from gd2.xdr._xdr_native import ffi as _ffi
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError, status_error

# What the facade does to one item before encoding / after decoding; plain integers need nothing.
FIX_SIGNED = 0
FIX_BOOL = 1
FIX_OPAQUE = 2
FIX_STRING = 3

_FIXES = {
    ord("i"): FIX_SIGNED,
    ord("q"): FIX_SIGNED,
    ord("?"): FIX_BOOL,
    ord("o"): FIX_OPAQUE,
    ord("f"): FIX_OPAQUE,
    ord("s"): FIX_STRING,
}
# Encoded size of an item beyond its data bytes, at most (length word and padding).
_OVERHEAD = {
    ord("I"): 4,
    ord("i"): 4,
    ord("?"): 4,
    ord("Q"): 8,
    ord("q"): 8,
    ord("o"): 7,
    ord("s"): 7,
    ord("f"): 3,
}


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled format: the native format and the per-item work the facade does around it."""

    fmt: str
    cfmt: bytes
    count: int
    """Number of items, hence of values to pack and returned by unpack."""
    slots: int
    """Output slots gxdr_unpack fills: one per integer, two (offset, length) per opaque/string."""
    overhead: int
    """Bound on the encoded size minus the opaque/string data bytes."""
    encode_fixes: tuple[tuple[int, int], ...]
    """(value index, FIX_*) for the values that are not passed to C as they are."""
    decode_fixes: tuple[tuple[int, int], ...]
    """(slot index, FIX_*) for the slots that are not returned as they are."""
    pick: Callable[[list[Any]], tuple[Any, ...]]
    """Takes the result of each item from the fixed-up slots."""


@functools.lru_cache(maxsize=1024)
def compile_format(fmt: str) -> Plan:
    """Parse fmt once; later calls with the same string return the cached Plan."""
    try:
        cfmt = fmt.encode("ascii")
    except UnicodeEncodeError:
        raise XdrError(f"format {fmt!r}: not ASCII") from None
    if b"\0" in cfmt:
        raise XdrError(f"format {fmt!r}: NUL in format")
    cap = max(len(cfmt), 1)
    kinds = _ffi.new("uint8_t[]", cap)
    args = _ffi.new("uint32_t[]", cap)
    count = _lib.gxdr_format_compile(cfmt, kinds, args, cap)
    if count < 0:
        raise status_error(count, f"format {fmt!r}")

    encode_fixes: list[tuple[int, int]] = []
    decode_fixes: list[tuple[int, int]] = []
    firsts: list[int] = []
    slot = 0
    overhead = 0
    for index in range(count):
        kind = kinds[index]
        fix = _FIXES.get(kind)
        if fix is not None:
            encode_fixes.append((index, fix))
            decode_fixes.append((slot, fix))
        firsts.append(slot)
        slot += 2 if fix in (FIX_OPAQUE, FIX_STRING) else 1
        overhead += _OVERHEAD[kind]
    return Plan(
        fmt, cfmt, count, slot, overhead, tuple(encode_fixes), tuple(decode_fixes), _picker(firsts, slot)
    )


def _picker(firsts: list[int], slots: int) -> Callable[[list[Any]], tuple[Any, ...]]:
    # itemgetter does the gathering in C; it returns a bare item for one index, so wrap that case.
    if len(firsts) == slots:
        return tuple
    if len(firsts) == 1:
        only = firsts[0]
        return lambda values: (values[only],)
    return itemgetter(*firsts)
