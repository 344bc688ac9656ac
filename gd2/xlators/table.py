"""The option tables of the installed xlators, as data: what each xlator accepts and how it is checked.

The tables are read from the real ``.so`` files by :mod:`gd2.xlators._dump` in a short-lived process
of its own (so this process never loads libglusterfs), then cached as JSON. The cache is keyed by a
fingerprint of the libraries (path, size, mtime of every file read), so a GlusterFS upgrade refreshes
it; a cache that is stale, unreadable or corrupt is rebuilt.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from gd2.errors import InternalError

log = structlog.get_logger(__name__)

# Bumped whenever the dump's JSON or its interpretation here changes: old caches then count as stale.
DUMP_FORMAT = 1
DUMP_SCRIPT = Path(__file__).with_name("_dump.py")
DEFAULT_DUMP_TIMEOUT = 60.0

OPTION_TYPES = frozenset({
    "ANY", "STR", "INT", "SIZET", "PERCENT", "PERCENT_OR_SIZET", "BOOL", "XLATOR", "PATH", "TIME",
    "DOUBLE", "INTERNET_ADDRESS", "INTERNET_ADDRESS_LIST", "PRIORITY_LIST", "SIZE_LIST",
    "CLIENT_AUTH_ADDR", "MAX",
})

# A dump as the _dump process prints it (parsed JSON).
Dump = Mapping[str, Any]
DumpRunner = Callable[[Path], Dump]


@dataclass(frozen=True)
class XlatorOption:
    """One entry of an xlator's option table (``volume_option_t``).

    ``type`` is the ``GF_OPTION_TYPE_*`` name without the prefix ("SIZET", "BOOL", ...). ``min`` and
    ``max`` are the bounds libglusterfs actually enforces for this type (None: that side is not
    checked); for PERCENT_OR_SIZET they bound the size form, percentages are always 0-100.
    ``choices`` is the table's ``value[]`` list: fnmatch patterns a STR value must match.
    """

    keys: tuple[str, ...]
    type: str
    min: float | None
    max: float | None
    choices: tuple[str, ...]
    default: str | None
    description: str
    op_version: tuple[int, ...] = ()
    flags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    setkey: str | None = None
    level: str = "advanced"

    @property
    def name(self) -> str:
        """The primary key: libglusterfs renames an alias to it in the graph."""
        return self.keys[0]

    def matches(self, option: str) -> bool:
        """Whether ``option`` names this entry (keys may be fnmatch patterns, e.g. ``transport.*``)."""
        return any(key == option or fnmatch.fnmatchcase(option, key) for key in self.keys)


@dataclass(frozen=True)
class XlatorTable:
    """Every readable xlator's options, by xlator type (``performance/write-behind``)."""

    tables: Mapping[str, tuple[XlatorOption, ...]]
    # Libraries that could not be read, with the reason (they are also absent from ``tables``).
    failed: Mapping[str, str] = field(default_factory=dict)
    fingerprint: str = ""

    def xlators(self) -> list[str]:
        """The xlator types read, sorted."""
        return sorted(self.tables)

    def options(self, xlator_type: str) -> tuple[XlatorOption, ...]:
        """The option table of one xlator type (empty for an unknown type)."""
        return self.tables.get(xlator_type, ())

    def lookup(self, xlator_type: str, option: str) -> XlatorOption | None:
        """The entry that ``option`` (a key or an alias) selects on ``xlator_type``, or None.

        As in libglusterfs, the first entry with a key matching ``option`` wins, in table order.
        """
        for entry in self.tables.get(xlator_type, ()):
            if entry.matches(option):
                return entry
        return None

    def __iter__(self) -> Iterator[tuple[str, XlatorOption]]:
        for xlator_type in self.xlators():
            for entry in self.tables[xlator_type]:
                yield xlator_type, entry


# -- reading the dump --------------------------------------------------------------------------------


def _number(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"not a number: {raw!r}")
    return float(raw)


def _bounds(kind: str, low: float, high: float, validate: str) -> tuple[float | None, float | None]:
    """The range libglusterfs's validator for ``kind`` enforces, from the raw table fields."""
    if kind == "PERCENT":
        return 0.0, 100.0
    if kind == "SIZE_LIST":
        return (low if low > 0 else None), None
    if kind in ("INT", "DOUBLE"):
        # validate=min/max checks one side only; "both" with 0/0 means no range at all.
        if validate == "min":
            bounds: tuple[float | None, float | None] = (low, None)
        elif validate == "max":
            bounds = (None, high)
        elif low == 0 and high == 0:
            bounds = (None, None)
        else:
            bounds = (low, high)
    elif kind in ("SIZET", "TIME", "PERCENT_OR_SIZET"):
        # These check both sides unless both are 0, whatever validate says.
        bounds = (None, None) if low == 0 and high == 0 else (low, high)
    else:
        return None, None
    return _finite(bounds[0]), _finite(bounds[1])


def _finite(bound: float | None) -> float | None:
    # Some tables use INFINITY for "no upper bound".
    return bound if bound is not None and math.isfinite(bound) else None


def _strings(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValueError(f"not a list of strings: {raw!r}")
    return tuple(raw)


def _optional_str(raw: object) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise ValueError(f"not a string: {raw!r}")
    return raw


def _ints(raw: object) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, int) for item in raw):
        raise ValueError(f"not a list of integers: {raw!r}")
    return tuple(raw)


def option_from_dump(raw: Mapping[str, Any]) -> XlatorOption:
    """One option entry of the dump as an :class:`XlatorOption`; ValueError if malformed."""
    keys = _strings(raw["keys"])
    kind = raw["type"]
    if not keys or kind not in OPTION_TYPES:
        raise ValueError(f"bad option entry {raw!r}")
    low, high = _bounds(kind, _number(raw["min"]), _number(raw["max"]), str(raw["validate"]))
    return XlatorOption(
        keys=keys,
        type=kind,
        min=low,
        max=high,
        choices=_strings(raw["values"]),
        default=_optional_str(raw["default"]),
        description=_optional_str(raw["description"]) or "",
        op_version=_ints(raw["op_version"]),
        flags=_strings(raw["flags"]),
        tags=_strings(raw["tags"]),
        setkey=_optional_str(raw["setkey"]),
        level=str(raw["level"]),
    )


def table_from_dump(dump: Dump, fingerprint: str = "") -> XlatorTable:
    """Build the table from a dump; ValueError (or KeyError/TypeError) if it is malformed."""
    if dump.get("format") != DUMP_FORMAT:
        raise ValueError(f"dump format {dump.get('format')!r}, expected {DUMP_FORMAT}")
    tables: dict[str, tuple[XlatorOption, ...]] = {}
    for xlator_type, entry in dump["xlators"].items():
        tables[str(xlator_type)] = tuple(option_from_dump(raw) for raw in entry["options"])
    failed = {str(name): str(reason) for name, reason in dump["errors"].items()}
    return XlatorTable(tables=tables, failed=failed, fingerprint=fingerprint)


# -- running the dump --------------------------------------------------------------------------------


def _libraries(xlator_dir: Path) -> list[Path]:
    """The files the dump reads (kept in step with _dump.libraries)."""
    found = sorted(xlator_dir.rglob("*.so"))
    transports = xlator_dir.parent / "rpc-transport"
    if transports.is_dir():
        found += sorted(transports.glob("*.so"))
    return found


def fingerprint(xlator_dir: Path) -> str:
    """A digest that changes whenever a library the dump reads is added, removed or replaced."""
    digest = hashlib.sha256(f"format={DUMP_FORMAT}\0dir={xlator_dir.resolve()}\0".encode())
    for path in _libraries(xlator_dir):
        try:
            st = path.stat()
        except OSError:  # a dangling symlink: the dump will report it
            digest.update(f"{path}\0missing\0".encode())
            continue
        digest.update(f"{path}\0{os.path.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def run_dump(xlator_dir: Path, *, timeout: float = DEFAULT_DUMP_TIMEOUT) -> Dump:
    """Read every xlator under ``xlator_dir`` in a child process; InternalError if that fails.

    The child runs the dump script by path in isolated mode (``python -I``): it needs the standard
    library only, and nothing of this process's import path or environment settings leaks into it.
    """
    command = [sys.executable, "-I", str(DUMP_SCRIPT), str(xlator_dir)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InternalError(f"reading the xlator option tables in {xlator_dir} took over {timeout:g}s") from exc
    except OSError as exc:
        raise InternalError(f"cannot run the xlator option dump: {exc}") from exc
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        detail = stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"
        raise InternalError(f"reading the xlator option tables in {xlator_dir} failed: {detail}")
    try:
        dump = json.loads(done.stdout)
    except ValueError as exc:
        raise InternalError(f"the xlator option dump for {xlator_dir} printed no valid JSON: {exc}") from exc
    if not isinstance(dump, dict):
        raise InternalError(f"the xlator option dump for {xlator_dir} printed {type(dump).__name__}, not an object")
    return dump


# -- the cache ---------------------------------------------------------------------------------------


def _read_cache(cache: Path, expected: str) -> XlatorTable | None:
    """The cached table if it is readable, well formed and made from the same libraries."""
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored["fingerprint"] != expected:
            log.info("xlator option cache is stale", cache=str(cache))
            return None
        return table_from_dump(stored["dump"], expected)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("xlator option cache is unusable; rebuilding it", cache=str(cache), error=str(exc))
        return None


def _write_cache(cache: Path, fp: str, dump: Dump) -> None:
    """Replace the cache atomically. Failing to write it costs only a dump next time, so it is
    logged, not raised."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{cache.name}.", dir=cache.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"fingerprint": fp, "dump": dump}, out, separators=(",", ":"))
            os.chmod(tmp, 0o644)  # public data, like the xlators it describes
            os.replace(tmp, cache)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot write the xlator option cache", cache=str(cache), error=str(exc))


def load_table(xlator_dir: Path, cache: Path | None, *, dump: DumpRunner = run_dump) -> XlatorTable:
    """The option tables of the xlators installed in ``xlator_dir``.

    Reuses ``cache`` when it was made from the same libraries; otherwise runs ``dump`` (the child
    process by default; tests pass a wrapper to count runs) and rewrites the cache. Raises
    InternalError when the directory is missing or no xlator at all can be read.
    """
    if not xlator_dir.is_dir():
        raise InternalError(f"xlator directory {xlator_dir} does not exist (is glusterfs installed?)")
    fp = fingerprint(xlator_dir)
    if cache is not None:
        cached = _read_cache(cache, fp)
        if cached is not None:
            return cached
    raw = dump(xlator_dir)
    try:
        table = table_from_dump(raw, fp)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InternalError(f"the xlator option dump for {xlator_dir} is malformed: {exc!r}") from exc
    if not table.tables:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(table.failed.items())) or "no .so files"
        raise InternalError(f"no xlator option table could be read from {xlator_dir} ({reasons})")
    if table.failed:
        log.warning("some xlators could not be read", failed=dict(table.failed))
    if cache is not None:
        _write_cache(cache, fp, raw)
    return table
