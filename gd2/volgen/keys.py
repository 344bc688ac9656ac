"""Volfile keys: the ``--volfile-id`` a process sends in GETSPEC, and what it names.

Supported keys (GLUSTER_PROTOCOL.md §3.2):

==========================================  ======  =================================
key                                          kind    requested by
==========================================  ======  =================================
``<vol>``, ``/<vol>``                        client  FUSE mount (``host:/vol``), gfapi
``<vol>.tcp``, ``/<vol>.tcp``                client  ``mount -o transport=tcp``
``<vol>.tcp-fuse``, ``/<vol>.tcp-fuse``      client  glusterd1's client volfile name
``shd/<vol>``                                shd     self-heal daemon (glusterd1 ≥ 7 form)
``<vol>.<host>.<exp>``                       brick   glusterfsd (``exp``: brick path, see
                                                     :func:`brick_export_name`)
==========================================  ======  =================================

Whether a client gets the trusted volfile is not in the key: glusterd1 decides
by the requester's address. Not supported: ``gluster/<service>`` (node-wide
daemons: glusterd2 runs one shd per volume), ``rebalance/``, ``snapd/``,
``gfproxy*``, ``client_per_brick/``, ``/snaps/`` and the rdma transport.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from gd2.api.models import Brick, Volume
from gd2.errors import NotFound

# Volume names never contain '.' or '/' (gd2.model.names), so the first '.'
# ends the volume name and a brick key is never mistaken for a client key.
# Every pattern here is linear in the key: a key is attacker-controlled (any
# process that can connect sends one) and is parsed on the trio thread, so no
# pattern may backtrack over its length (a brick key used to be matched with
# two '[^/\s]+' classes around a '.', quadratic on a run of dots).
_VOLUME = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_CLIENT_KEY = re.compile(rf"/?(?P<volume>{_VOLUME})(?:\.tcp|\.tcp-fuse)?")
_SHD_KEY = re.compile(rf"shd/(?P<volume>{_VOLUME})")
_VOLUME_NAME = re.compile(_VOLUME)
_NOT_IN_BRICK_ID = re.compile(r"[/\s]")

# The longest key a real process can send: a brick key is
# '<volume>.<host>.<brick path less its first '/'>' with a volume name of at
# most 64 characters, a host name of at most 255 and a path under PATH_MAX
# (4096, gd2.model.names); anything longer names nothing and is refused before
# it is parsed.
MAX_KEY_LENGTH = 64 + 1 + 255 + 1 + 4096


class VolfileKind(StrEnum):
    CLIENT = "client"
    SHD = "shd"
    BRICK = "brick"


class VolfileKey(NamedTuple):
    """What a key asks for. ``brick_id`` is the whole key for brick volfiles, else None.

    A brick key cannot be turned back into a path (``/a-b`` and ``/a/b``
    give the same ``exp``), so the brick is found by comparing ids: see
    :func:`find_brick`.
    """

    kind: VolfileKind
    volume: str
    brick_id: str | None = None


def brick_export_name(path: str) -> str:
    """glusterd1's GLUSTERD_REMOVE_SLASH_FROM_PATH: ``/bricks/b1`` → ``bricks-b1``.

    The leading '/' goes, every other '/' but a trailing one becomes '-'.
    Used in brick volfile ids and in the brick's pid and log file names.
    """
    body = path[1:]
    if body.endswith("/"):
        return body[:-1].replace("/", "-") + "/"
    return body.replace("/", "-")


def brick_volfile_id(volume_name: str, host: str, path: str) -> str:
    """The ``--volfile-id`` of a brick: ``<vol>.<host>.<exp>``."""
    return f"{volume_name}.{host}.{brick_export_name(path)}"


def shd_volfile_id(volume_name: str) -> str:
    """The ``--volfile-id`` of a volume's self-heal daemon."""
    return f"shd/{volume_name}"


def resolve_key(key: str) -> VolfileKey:
    """Parse a GETSPEC key; raise NotFound for a form glusterd2 does not serve.

    Linear in the key's length, which is bounded by :data:`MAX_KEY_LENGTH`.
    """
    if len(key) > MAX_KEY_LENGTH:
        raise NotFound(f"no volfile for a key of {len(key)} characters (at most {MAX_KEY_LENGTH})",
                       {"key": key[:64] + "..."})
    if match := _SHD_KEY.fullmatch(key):
        return VolfileKey(VolfileKind.SHD, match["volume"])
    if match := _CLIENT_KEY.fullmatch(key):
        return VolfileKey(VolfileKind.CLIENT, match["volume"])
    if (volume := _brick_key_volume(key)) is not None:
        return VolfileKey(VolfileKind.BRICK, volume, key)
    shown = key if len(key) <= 80 else key[:64] + "..."
    raise NotFound(f"no volfile for key {shown!r}", {"key": shown})


def _brick_key_volume(key: str) -> str | None:
    """The volume of a brick key ``<vol>.<host>.<exp>[/]``, or None when it is not one.

    After the volume name (which has no '.'), the rest less one trailing '/'
    has no '/' or white space and a '.' with something on both sides of it.
    """
    volume, dot, rest = key.partition(".")
    if not dot or not _VOLUME_NAME.fullmatch(volume):
        return None
    rest = rest.removesuffix("/")
    if len(rest) < 3 or "." not in rest[1:-1] or _NOT_IN_BRICK_ID.search(rest):
        return None
    return volume


def find_brick(volume: Volume, volfile_id: str) -> Brick | None:
    """The brick of ``volume`` whose volfile id is ``volfile_id``."""
    for brick in volume.bricks:
        if brick_volfile_id(volume.name, brick.host, brick.path) == volfile_id:
            return brick
    return None
