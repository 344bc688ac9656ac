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

# Encoded size of an item beyond its data bytes, at most (length word and padding).
_OVERHEAD = {"I": 4, "i": 4, "?": 4, "Q": 8, "q": 8, "o": 7, "s": 7, "f": 3}


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled format: the native format and the per-item work the facade does around it.

    Values and results of plain unsigned integers pass through untouched; the other kinds are
    listed by position so that pack and unpack loop only over them.
    """

    fmt: str
    cfmt: bytes
    count: int
    """Number of items, hence of values to pack and returned by unpack."""
    slots: int
    """Output slots gxdr_unpack fills: one per integer, two (offset, length) per opaque/string."""
    overhead: int
    """Bound on the encoded size minus the opaque/string data bytes."""
    signed: tuple[int, ...]
    """Value indexes of i and q items (passed to C as two's complement)."""
    bools: tuple[int, ...]
    """Value indexes of ? items."""
    blobs: tuple[tuple[int, bool], ...]
    """(value index, is a string) of o and s items, in format order."""
    signed_slots: tuple[int, ...]
    bool_slots: tuple[int, ...]
    blob_slots: tuple[tuple[int, bool], ...]
    """(first slot, is a string) of o and s items."""
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

    signed: list[tuple[int, int]] = []
    bools: list[tuple[int, int]] = []
    blobs: list[tuple[int, int, bool]] = []
    firsts: list[int] = []
    slot = 0
    for index, kind in enumerate(chr(k) for k in kinds[0:count]):
        firsts.append(slot)
        if kind in "iq":
            signed.append((index, slot))
        elif kind == "?":
            bools.append((index, slot))
        elif kind in "ofs":
            blobs.append((index, slot, kind == "s"))
            slot += 1
        slot += 1
    return Plan(
        fmt=fmt,
        cfmt=cfmt,
        count=count,
        slots=slot,
        overhead=sum(_OVERHEAD[chr(k)] for k in kinds[0:count]),
        signed=tuple(index for index, _ in signed),
        bools=tuple(index for index, _ in bools),
        blobs=tuple((index, is_string) for index, _, is_string in blobs),
        signed_slots=tuple(slot for _, slot in signed),
        bool_slots=tuple(slot for _, slot in bools),
        blob_slots=tuple((slot, is_string) for _, slot, is_string in blobs),
        pick=_picker(firsts, slot),
    )


def _picker(firsts: list[int], slots: int) -> Callable[[list[Any]], tuple[Any, ...]]:
    # itemgetter does the gathering in C; it returns a bare item for one index, so wrap that case.
    if len(firsts) == slots:
        return tuple
    if len(firsts) == 1:
        only = firsts[0]
        return lambda values: (values[only],)
    return itemgetter(*firsts)
