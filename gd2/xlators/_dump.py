"""Read the option tables out of installed GlusterFS xlator .so files; print them as JSON.

Run as ``python -m gd2.xlators._dump XLATORDIR`` (or by file path with ``python -I``). It is meant to
run in a short-lived process of its own: dlopen pulls in libglusterfs, whose constructors and global
state glusterd2's own process must never carry. This module therefore uses the standard library only
and is never imported by the daemon; :func:`gd2.xlators.table.run_dump` runs it.

What it reads (GlusterFS 10.x, ``libglusterfs/src/glusterfs/xlator.h`` and ``options.h``): every
``<category>/<name>.so`` under XLATORDIR exports ``xlator_api`` (an ``xlator_api_t`` whose ``options``
points at a ``volume_option_t`` array ending with a NULL first key); older ones export a plain
``options`` array instead. Transports live beside the xlator directory (``../rpc-transport/*.so``) and
only have ``options``; they are listed as ``rpc-transport/<name>``, the type glusterd1's option map
uses for them. Nothing is called in the libraries: only their data is read.

Output: ``{"format": 1, "xlator_dir": ..., "xlators": {type: {"symbol", "identifier", "options":
[...]}}, "errors": {type: message}}``. Option entries carry the raw table fields (min, max and
``validate`` as the C code has them); :mod:`gd2.xlators.table` turns them into checked bounds.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

FORMAT = 1

# Sizes from options.h: ZR_VOLUME_MAX_NUM_KEY, ZR_OPTION_MAX_ARRAY_SIZE, GF_MAX_RELEASES.
_MAX_KEYS = 4
_MAX_VALUES = 64
_MAX_RELEASES = 4
# No xlator has more than a few hundred options; a runaway walk means the layout is wrong.
_MAX_OPTIONS = 2000

OPTION_TYPES = (
    "ANY", "STR", "INT", "SIZET", "PERCENT", "PERCENT_OR_SIZET", "BOOL", "XLATOR", "PATH", "TIME",
    "DOUBLE", "INTERNET_ADDRESS", "INTERNET_ADDRESS_LIST", "PRIORITY_LIST", "SIZE_LIST",
    "CLIENT_AUTH_ADDR", "MAX",
)
_VALIDATE = ("both", "min", "max")
_LEVELS = ("advanced", "basic", "experimental", "deprecated")
# gf_category_t (glusterfs.h)
_CATEGORIES = ("none", "deprecated", "tech-preview", "maintained", "experimental")
_FLAGS = (
    (1 << 0, "settable"), (1 << 1, "client"), (1 << 2, "global"), (1 << 3, "force"),
    (1 << 4, "never-reset"), (1 << 5, "doc"), (1 << 6, "range"),
)


class _VolumeOption(ctypes.Structure):
    """``volume_option_t`` of GlusterFS 10.x (1152 bytes on x86_64)."""

    _fields_ = (
        ("key", ctypes.c_char_p * _MAX_KEYS),
        ("type", ctypes.c_int),
        ("min", ctypes.c_double),
        ("max", ctypes.c_double),
        ("value", ctypes.c_char_p * _MAX_VALUES),
        ("default_value", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
        ("validate", ctypes.c_int),
        ("op_version", ctypes.c_uint32 * _MAX_RELEASES),
        ("deprecated", ctypes.c_uint32 * _MAX_RELEASES),
        ("flags", ctypes.c_uint32),
        ("tags", ctypes.c_char_p * _MAX_VALUES),
        ("setkey", ctypes.c_char_p),
        ("level", ctypes.c_int),
        ("category", ctypes.c_int),
    )


class _XlatorApi(ctypes.Structure):
    """The leading, stable part of ``xlator_api_t`` (the "GD2MARKER" fields); the rest is not read."""

    _fields_ = (
        ("op_version", ctypes.c_uint32 * _MAX_RELEASES),
        ("flags", ctypes.c_uint32),
        ("xlator_id", ctypes.c_uint32),
        ("identifier", ctypes.c_char_p),
        ("options", ctypes.POINTER(_VolumeOption)),
        ("category", ctypes.c_int),
    )


class _DlInfo(ctypes.Structure):
    _fields_ = (
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    )


@functools.cache
def _dladdr() -> Any:
    function = ctypes.CDLL(None).dladdr
    function.argtypes = (ctypes.c_void_p, ctypes.POINTER(_DlInfo))
    function.restype = ctypes.c_int
    return function


def _number(value: float) -> float | str:
    """A double as JSON allows it: some tables use INFINITY for "no upper bound"."""
    return value if math.isfinite(value) else repr(value)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _strings(array: Any) -> list[str]:
    """A NULL-terminated (or full) fixed array of char* as a list."""
    out: list[str] = []
    for raw in array:
        if raw is None:
            break
        out.append(raw.decode("utf-8", "replace"))
    return out


def _named(table: tuple[str, ...], index: int) -> str:
    return table[index] if 0 <= index < len(table) else str(index)


def _owner(address: int) -> str | None:
    """The file the loaded object at ``address`` came from (dlsym on a handle also searches its
    dependencies, so a symbol found there must be checked to belong to the xlator itself)."""
    info = _DlInfo()
    if _dladdr()(address, ctypes.byref(info)) == 0:
        return None
    fname: bytes | None = info.dli_fname
    return None if fname is None else os.path.realpath(fname.decode("utf-8", "replace"))


def _option(opt: _VolumeOption) -> dict[str, Any]:
    flags: int = opt.flags
    return {
        "keys": _strings(opt.key),
        "type": _named(OPTION_TYPES, opt.type),
        "min": _number(opt.min),
        "max": _number(opt.max),
        "validate": _named(_VALIDATE, opt.validate),
        "values": _strings(opt.value),
        "default": _text(opt.default_value),
        "description": _text(opt.description) or "",
        "op_version": [v for v in opt.op_version if v],
        "deprecated": [v for v in opt.deprecated if v],
        "flags": [name for bit, name in _FLAGS if flags & bit],
        "tags": _strings(opt.tags),
        "setkey": _text(opt.setkey),
        "level": _named(_LEVELS, opt.level),
        "category": _named(_CATEGORIES, opt.category),
    }


def _options(first: Any) -> list[dict[str, Any]]:
    array = ctypes.cast(first, ctypes.POINTER(_VolumeOption))
    out: list[dict[str, Any]] = []
    for index in range(_MAX_OPTIONS):
        entry = array[index]
        if entry.key[0] is None:
            return out
        out.append(_option(entry))
    raise ValueError(f"option table has no end within {_MAX_OPTIONS} entries")


def read_library(path: Path, *, transport: bool = False) -> dict[str, Any]:
    """The option table of one xlator or transport library."""
    real = os.path.realpath(path)
    # RTLD_LAZY: functions are never called, so unresolved ones (some xlators expect symbols of the
    # glusterfs binary) must not stop the load. RTLD_LOCAL keeps each library's symbols to itself.
    lib = ctypes.CDLL(str(path), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    if not transport:
        try:
            api = _XlatorApi.in_dll(lib, "xlator_api")
        except ValueError:
            api = None
        if api is not None and _owner(ctypes.addressof(api)) == real:
            entry: dict[str, Any] = {
                "symbol": "xlator_api",
                "identifier": _text(api.identifier),
                "category": _named(_CATEGORIES, api.category),
                "options": _options(api.options) if api.options else [],
            }
            return entry
    try:
        first = _VolumeOption.in_dll(lib, "options")
    except ValueError:
        first = None
    if first is None or _owner(ctypes.addressof(first)) != real:
        raise ValueError("exports neither xlator_api nor options")
    return {"symbol": "options", "identifier": None, "category": "none",
            "options": _options(ctypes.pointer(first))}


def libraries(xlator_dir: Path) -> list[tuple[str, Path, bool]]:
    """(type, path, is_transport) for every library the dump reads, sorted by type."""
    found: list[tuple[str, Path, bool]] = []
    for path in sorted(xlator_dir.rglob("*.so")):
        found.append((path.relative_to(xlator_dir).with_suffix("").as_posix(), path, False))
    transports = xlator_dir.parent / "rpc-transport"
    if transports.is_dir():
        for path in sorted(transports.glob("*.so")):
            found.append((f"rpc-transport/{path.stem}", path, True))
    return found


def dump(xlator_dir: Path) -> dict[str, Any]:
    """Read every library under ``xlator_dir``; a library that cannot be read is listed in errors."""
    xlators: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, path, transport in libraries(xlator_dir):
        try:
            xlators[name] = read_library(path, transport=transport)
        except (OSError, ValueError) as exc:
            errors[name] = str(exc)
    return {"format": FORMAT, "xlator_dir": str(xlator_dir), "xlators": xlators, "errors": errors}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gd2.xlators._dump XLATORDIR", file=sys.stderr)
        return 2
    xlator_dir = Path(argv[0])
    if not xlator_dir.is_dir():
        print(f"{xlator_dir}: not a directory", file=sys.stderr)
        return 1
    # Whatever a library's constructor prints must not mix with the JSON: point fd 1 at stderr while
    # loading and write the result to the saved original.
    sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    result = dump(xlator_dir)
    with os.fdopen(out_fd, "w", encoding="utf-8") as out:
        json.dump(result, out, separators=(",", ":"), allow_nan=False)
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stderr.flush()
    # Skip interpreter and library teardown: libglusterfs destructors have nothing to do for us and
    # are not ours to run.
    os._exit(status)
