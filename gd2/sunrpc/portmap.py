"""The portmap registry: which port each brick listens on, as the bricks themselves report it.

glusterfsd signs in (brick path, port, pid) over its management connection once its brick
listens, and signs out on clean shutdown; clients ask PORTBYBRICK before connecting to a brick
(GLUSTER_PROTOCOL.md §4). Each entry belongs to the connection that signed it in: when that
connection closes (the brick was killed, or glusterd2 restarted and the brick will sign in again)
the entry goes. Nothing is persisted: bricks sign in again within seconds of a restart.

For the rest of glusterd2 (volume status, the brick supervisor): ``port_of``, ``pid_of``,
``wait_signed_in`` and ``listen`` for sign-in/sign-out events.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import trio

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BrickEntry:
    """A signed-in brick."""

    brick: str
    port: int
    pid: int
    connection: int
    """The id of the management connection that signed it in."""


class PortmapChange(enum.Enum):
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    """The brick sent SIGNOUT (clean shutdown)."""
    DISCONNECTED = "disconnected"
    """The connection that signed the brick in closed (killed brick, lost connection)."""
    REPLACED = "replaced"
    """Another sign-in for the same brick path took its place (a restarted brick)."""


@dataclass(frozen=True, slots=True)
class PortmapEvent:
    change: PortmapChange
    entry: BrickEntry


Listener = Callable[[PortmapEvent], None]


class PortmapRegistry:
    """brick path -> (port, pid, connection). Synchronous except for ``wait_signed_in``; use it
    from the trio thread only."""

    def __init__(self) -> None:
        self._entries: dict[str, BrickEntry] = {}
        self._waiters: dict[str, list[trio.Event]] = {}
        self._listeners: list[Listener] = []

    # ---- queries ---------------------------------------------------------------------------------

    def port_of(self, brick: str) -> int | None:
        """The port brick signed in with, or None when it is not signed in."""
        entry = self._entries.get(brick)
        return entry.port if entry else None

    def pid_of(self, brick: str) -> int | None:
        """The pid brick signed in with, or None when it is not signed in."""
        entry = self._entries.get(brick)
        return entry.pid if entry else None

    def ports_in_use(self) -> set[int]:
        """Every port a signed-in brick holds (a new brick must not be given one)."""
        return {entry.port for entry in self._entries.values()}

    def entries(self) -> list[BrickEntry]:
        """Every signed-in brick, in sign-in order."""
        return list(self._entries.values())

    async def wait_signed_in(self, brick: str) -> int:
        """Return brick's port once it is signed in (at once if it already is).

        No deadline here: callers wrap it in their own (``trio.fail_after``).
        """
        while True:
            port = self.port_of(brick)
            if port is not None:
                return port
            event = trio.Event()
            self._waiters.setdefault(brick, []).append(event)
            try:
                await event.wait()
            finally:
                waiters = self._waiters.get(brick)
                if waiters and event in waiters:
                    waiters.remove(event)
                    if not waiters:
                        del self._waiters[brick]

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call listener(event) on every sign-in and sign-out, synchronously, until the returned
        function is called. A listener must not block; one that raises is logged and kept."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # ---- changes (from the SunRPC server) ----------------------------------------------------------

    def sign_in(self, brick: str, port: int, pid: int, connection: int) -> None:
        """Record brick on port, signed in over connection; a previous entry is replaced."""
        old = self._entries.pop(brick, None)
        if old is not None:
            self._emit(PortmapChange.REPLACED, old)
        entry = BrickEntry(brick, port, pid, connection)
        self._entries[brick] = entry
        self._emit(PortmapChange.SIGNED_IN, entry)
        for event in self._waiters.pop(brick, ()):
            event.set()

    def sign_out(self, brick: str, port: int, connection: int) -> bool:
        """Remove brick if this connection signed it in or the port matches (a brick signing out
        over a new connection); False when nothing matched."""
        entry = self._entries.get(brick)
        if entry is None or (entry.connection != connection and entry.port != port):
            return False
        del self._entries[brick]
        self._emit(PortmapChange.SIGNED_OUT, entry)
        return True

    def drop_connection(self, connection: int) -> list[BrickEntry]:
        """Remove every entry connection signed in (it closed); return them."""
        gone = [entry for entry in self._entries.values() if entry.connection == connection]
        for entry in gone:
            del self._entries[entry.brick]
            self._emit(PortmapChange.DISCONNECTED, entry)
        return gone

    def _emit(self, change: PortmapChange, entry: BrickEntry) -> None:
        event = PortmapEvent(change, entry)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("portmap listener failed", brick=entry.brick, change=change.value)
