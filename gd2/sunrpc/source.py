"""Where the SunRPC server gets volfiles and volume ids: an interface the daemon injects.

The server knows nothing of volumes or the store. GETSPEC asks ``volfile``, GET_VOLUME_INFO asks
``volume_id``, PORTBYBRICK for a brick not signed in here asks a ``BrickPortSource``; the
composition root passes implementations backed by volgen and the store, and tests pass
``StaticVolfileSource``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Volfile:
    """A volfile with GETSPEC reply xdata, for the keys that need some.

    A requester running with ``--process-name glustershd`` needs ``pidfile`` in the xdata
    (GLUSTER_PROTOCOL.md §6.3); values are str or int, sent as NUL-terminated strings.
    """

    text: str
    xdata: Mapping[str, str | int] = field(default_factory=dict)


class VolfileSource(Protocol):
    """What the SunRPC server asks the rest of glusterd2."""

    async def volfile(self, key: str, local_peer: bool) -> str | Volfile | None:
        """The volfile for a GETSPEC key (the requester's ``--volfile-id``, passed unchanged), or
        None when there is none (the requester gets ENOENT).

        ``local_peer`` is True when the request came over the Unix socket or from a loopback or
        this node's own address, so the source may serve trusted volfiles (GLUSTER_PROTOCOL.md
        §3.2).
        """
        ...

    async def volume_id(self, name: str) -> str | None:
        """The canonical UUID string of volume name, or None when there is no such volume."""
        ...

    async def brick_known(self, path: str) -> bool:
        """Whether path is a brick of a volume on this node (only those may SIGNIN)."""
        ...


class BrickPortSource(Protocol):
    """Where PORTBYBRICK looks for a brick that is not signed in here (the daemon passes the
    service that reads the bricks other nodes publish; gd2.commands.brick_state)."""

    async def port_of(self, brick_path: str) -> int | None:
        """The port another node of the pool published for brick_path, or None."""
        ...


class StaticVolfileSource:
    """An in-memory VolfileSource: fixed volfiles by key, volume ids by name.

    Keys are looked up as given, then with one leading '/' removed (FUSE asks for ``/<vol>``),
    as glusterd2 does. ``trusted`` volfiles, when given, are served to local peers instead.
    Mutable, so that a test can change a volfile and send FETCHSPEC.
    """

    def __init__(
        self,
        volfiles: Mapping[str, str | Volfile] | None = None,
        volume_ids: Mapping[str, str] | None = None,
        trusted: Mapping[str, str | Volfile] | None = None,
        bricks: set[str] | None = None,
    ) -> None:
        self.volfiles: dict[str, str | Volfile] = dict(volfiles or {})
        self.volume_ids: dict[str, str] = dict(volume_ids or {})
        self.trusted: dict[str, str | Volfile] = dict(trusted or {})
        self.bricks = bricks
        """Brick paths allowed to SIGNIN; None allows any."""
        self.requests: deque[tuple[str, bool]] = deque(maxlen=1024)
        """The (key, local_peer) asked for, oldest first (the last 1024)."""

    async def volfile(self, key: str, local_peer: bool) -> str | Volfile | None:
        self.requests.append((key, local_peer))
        tables = (self.trusted, self.volfiles) if local_peer else (self.volfiles,)
        for name in (key, key[1:] if key.startswith("/") else None):
            if name is None:
                continue
            for table in tables:
                found = table.get(name)
                if found is not None:
                    return found
        return None

    async def volume_id(self, name: str) -> str | None:
        return self.volume_ids.get(name)

    async def brick_known(self, path: str) -> bool:
        return self.bricks is None or path in self.bricks
