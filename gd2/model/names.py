"""What names and brick paths glusterd2 accepts.

Volume names end up in volfile ids (``VOL.HOST.PATH``), xlator names
(``VOL-client-0``) and file names, so only characters that are safe in all of
them are allowed, as glusterd1 does.
"""

from __future__ import annotations

import re

from gd2.errors import InvalidRequest

_VOLUME_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
_RESERVED = frozenset({"all", "volume", "gd2", "gluster"})


def check_volume_name(name: str) -> str:
    """Return ``name`` if it is a valid volume name, else raise InvalidRequest."""
    if not _VOLUME_NAME.fullmatch(name):
        raise InvalidRequest(
            f"invalid volume name {name!r}: use 1-64 letters, digits, '-' or '_', not starting with '-'",
            {"name": "invalid"},
        )
    if name.lower() in _RESERVED:
        raise InvalidRequest(f"volume name {name!r} is reserved", {"name": "reserved"})
    return name


# Linux limits: a path handed to a syscall is at most PATH_MAX bytes with its NUL, one
# name at most NAME_MAX bytes.  Longer paths could be stored but never made or exported.
PATH_MAX = 4096
NAME_MAX = 255


def normalise_brick_path(spec: str, path: str) -> str:
    """The canonical form of a brick's path, or InvalidRequest naming ``spec``.

    Repeated, leading double and trailing slashes are collapsed and ``.`` dropped (as
    glusterd1's gf_canonicalize_path does for slashes), so that the stored path, the
    brick's volfile id and the directory marked on disk are one and the same string.
    ``..`` is refused rather than resolved: lexically it may name another directory than
    the kernel would.  The root directory (however spelled) is never a brick.
    """
    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(f"brick {spec!r}: {why}", {"bricks": spec})

    if not path.startswith("/"):
        raise refuse("path must be absolute")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise refuse("path must not contain control characters (NUL, newline, tab...)")
    if any(c.isspace() for c in path):
        raise refuse("path must not contain spaces")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise refuse("path must not contain '..' components")
    if not parts:
        raise refuse("the root directory cannot be a brick")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise refuse(f"component {part[:32]}... is longer than {NAME_MAX} bytes")
    normal = "/" + "/".join(parts)
    if len(normal.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise refuse(f"path is longer than {PATH_MAX - 1} bytes")
    return normal


def split_brick(spec: str) -> tuple[str, str]:
    """Split ``HOST:PATH`` into host and a normalised absolute path (normalise_brick_path)."""
    host, sep, path = spec.partition(":")
    if not sep or not host or not path:
        raise InvalidRequest(f"brick {spec!r} is not HOST:PATH", {"bricks": spec})
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in host):
        raise InvalidRequest(f"brick {spec!r}: host must not contain spaces or control characters",
                             {"bricks": spec})
    return host, normalise_brick_path(spec, path)


def is_nested(a: str, b: str) -> bool:
    """True when one normalised path is the other or lies inside it."""
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
