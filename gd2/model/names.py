"""What names and brick paths glusterd2 accepts.

Volume names end up in volfile ids (``VOL.HOST.PATH``), xlator names
(``VOL-client-0``) and file names, so only characters that are safe in all of
them are allowed, as glusterd1 does.
"""

from __future__ import annotations

import posixpath
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


def split_brick(spec: str) -> tuple[str, str]:
    """Split ``HOST:PATH`` into host and a normalised absolute path."""
    host, sep, path = spec.partition(":")
    if not sep or not host or not path:
        raise InvalidRequest(f"brick {spec!r} is not HOST:PATH", {"bricks": spec})
    if not path.startswith("/"):
        raise InvalidRequest(f"brick {spec!r}: path must be absolute", {"bricks": spec})
    if any(c.isspace() or c in "\0" for c in spec) or ".." in path.split("/"):
        raise InvalidRequest(f"brick {spec!r}: path must not contain spaces or '..'", {"bricks": spec})
    normal = posixpath.normpath(path)
    if normal == "/":
        raise InvalidRequest(f"brick {spec!r}: the root directory cannot be a brick", {"bricks": spec})
    return host, normal


def is_nested(a: str, b: str) -> bool:
    """True when one normalised path is the other or lies inside it."""
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
