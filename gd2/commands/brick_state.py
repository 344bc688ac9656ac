"""Where every brick of the pool listens: this node's sign-ins published in the store.

A node's portmap registry (gd2.sunrpc.portmap) knows only the bricks that signed in with it. So
that any node can answer ``volume status`` and PORTBYBRICK for any brick, each node publishes its
own signed-in bricks:

    bricks/<volume>/<peer-id>/<brick-id>  →  {volume, brick_id, peer_id, host, path, port, pid, online}

written on a lease of this node's (``BrickPublisher.run``), so the entries go when the node dies
or loses the store for longer than the lease; a clean stop revokes the lease at once. An entry
exists only while its brick is signed in here (``online`` is always true; readers treat a missing
entry as offline). Sign-in, sign-out and a dropped brick connection wake the publisher, which
compares what the registry holds with what it has written and writes the difference: the
decision (:func:`plan`) is pure, the loop only carries it out. Stopping a volume removes its
entries through the same path (its bricks sign out, or their connections close).

Reads (:func:`volume_bricks`, :func:`live_peers`, :func:`find_port`) take no lock and never wait
on a transaction.

Limitation: PORTBYBRICK carries only the brick path. The SunRPC server answers a brick signed in
locally first, and refuses to look further when the path is a brick of this node (a brick of
ours that is down must not be answered with another node's port for the same path). Otherwise it
asks :meth:`BrickPublisher.port_of`: the published entries with that path on other nodes. If two
other nodes both serve that path, the answer is one of them (a live peer's, then the first by
key), which may not be the one the client meant; GlusterFS clients ask the brick's own host
(``remote-host``), so they are answered by the local fast path. The lookup lists every published
brick (one store read, only on that path).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import structlog
import trio

from gd2.api.models import Brick, Volume, VolumeState
from gd2.api.runtime import BrickStatus
from gd2.commands import keys
from gd2.daemons.base import BrickSignIns
from gd2.errors import GD2Error
from gd2.model.node import LocalNode
from gd2.store import Entry, Store

log = structlog.get_logger(__name__)

RETRY_INTERVAL = 1.0
"""Seconds between attempts when the store refuses a write or a lease."""


class LeaseExpired(Exception):
    pass


@dataclass(frozen=True, slots=True)
class PublishedBrick:
    """A brick signed in on its node, as published in the store."""

    volume: str
    brick_id: str
    peer_id: str
    host: str
    path: str
    port: int
    pid: int | None
    online: bool = True

    @property
    def key(self) -> str:
        return keys.brick(self.volume, self.peer_id, self.brick_id)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_entry(cls, entry: Entry) -> PublishedBrick | None:
        """The entry's brick, or None (logged) when the value is not one."""
        value = entry.value
        try:
            brick = cls(volume=str(value["volume"]), brick_id=str(value["brick_id"]), peer_id=str(value["peer_id"]),
                        host=str(value["host"]), path=str(value["path"]), port=int(value["port"]),
                        pid=None if value.get("pid") is None else int(value["pid"]),
                        online=bool(value.get("online", True)))
        except (TypeError, KeyError, ValueError, AttributeError):
            log.warning("ignoring a malformed brick entry", key=entry.key)
            return None
        return brick


def _owner(key: str) -> str | None:
    # bricks/<volume>/<peer-id>/<brick-id>
    parts = key.split("/")
    return parts[2] if len(parts) == 4 and parts[0] + "/" == keys.BRICKS else None


# ---- deciding (pure) --------------------------------------------------------------------------------


def desired_bricks(node: LocalNode, volumes: Iterable[Volume], signed_in: Mapping[str, tuple[int, int]]
                   ) -> dict[str, PublishedBrick]:
    """What this node should have published: its bricks (of any volume) that are signed in.

    signed_in maps brick path → (port, pid) as the portmap registry holds them.
    """
    desired: dict[str, PublishedBrick] = {}
    for volume in volumes:
        for brick in volume.bricks:
            if brick.peer_id != node.peer_id or brick.path not in signed_in:
                continue
            port, pid = signed_in[brick.path]
            entry = PublishedBrick(volume=volume.name, brick_id=brick.id, peer_id=brick.peer_id, host=brick.host,
                                   path=brick.path, port=port, pid=pid if pid > 0 else None)
            desired[entry.key] = entry
    return desired


def plan(desired: Mapping[str, PublishedBrick], published: Mapping[str, PublishedBrick | None]
         ) -> tuple[list[str], list[PublishedBrick]]:
    """(keys to delete, bricks to write) to turn published into desired.

    A None in published is a key of ours whose value is unknown or on an older lease: it is
    written again if still desired.
    """
    deletes = sorted(key for key in published if key not in desired)
    puts = [brick for key, brick in sorted(desired.items()) if published.get(key) != brick]
    return deletes, puts


def remote_brick_status(volume: Volume, brick: Brick, published: PublishedBrick | None,
                        peer_alive: bool) -> BrickStatus:
    """``volume status`` for a brick of another node, from what that node published."""
    online = published is not None and published.online and peer_alive
    if online:
        assert published is not None
        return BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id, online=True,
                           port=published.port, pid=published.pid)
    if not peer_alive:
        error: str | None = f"peer {brick.host} is down"
    elif volume.state is VolumeState.STARTED:
        error = "not signed in on its peer"
    else:
        error = None
    return BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id, online=False,
                       error=error)


def choose_port(path: str, candidates: Iterable[PublishedBrick], own_peer: str, alive: set[str] | None
                ) -> int | None:
    """The port to answer PORTBYBRICK path with from published bricks of other nodes.

    Online entries with that path, not this node's (ours would be stale: the registry answers
    for this node); when several remain and alive is given, those of live peers first; then the
    first by key.
    """
    found = sorted((c for c in candidates if c.path == path and c.online and c.peer_id != own_peer),
                   key=lambda c: (alive is not None and c.peer_id not in alive, c.key))
    return found[0].port if found else None


# ---- reading --------------------------------------------------------------------------------------------


async def volume_bricks(store: Store, volume_name: str) -> dict[tuple[str, str], PublishedBrick]:
    """The published bricks of a volume by (peer id, brick id)."""
    found = {}
    for entry in await store.list_prefix(keys.volume_bricks(volume_name)):
        brick = PublishedBrick.from_entry(entry)
        if brick is not None:
            found[brick.peer_id, brick.brick_id] = brick
    return found


async def live_peers(store: Store) -> set[str]:
    """The ids of the peers holding their liveness lease."""
    return {entry.key.removeprefix(keys.ALIVE) for entry in await store.list_prefix(keys.ALIVE)}


async def find_port(store: Store, path: str, own_peer: str) -> int | None:
    """The published port of brick path on another node (see :func:`choose_port`)."""
    candidates = [b for e in await store.list_prefix(keys.BRICKS) if (b := PublishedBrick.from_entry(e))]
    matching = [b for b in candidates if b.path == path and b.online and b.peer_id != own_peer]
    alive = await live_peers(store) if len({b.peer_id for b in matching}) > 1 else None
    return choose_port(path, matching, own_peer, alive)


# ---- publishing -----------------------------------------------------------------------------------------


class BrickPublisher:
    """Keeps ``bricks/<volume>/<this-peer>/...`` equal to this node's portmap sign-ins.

    Built by the composition root with the store, this node and the portmap registry; the daemon
    runs :meth:`run` in its nursery, and the SunRPC server asks :meth:`port_of` for bricks not
    signed in here.
    """

    def __init__(self, store: Store, node: LocalNode, registry: BrickSignIns) -> None:
        self._store = store
        self._node = node
        self._registry = registry
        self._dirty = True
        self._wakeup = trio.Event()
        self._settled = trio.Event()  # set while the store holds what the registry does
        self._published: dict[str, PublishedBrick | None] | None = None
        """What we wrote under the current lease; None right after a lease is granted (unknown)."""

    def _poke(self, _event: object = None) -> None:
        self._dirty = True
        if self._settled.is_set():
            self._settled = trio.Event()
        self._wakeup.set()

    async def wait_published(self) -> None:
        """Return once the store holds this node's sign-ins as they are now (at once if it does).

        For a step that starts bricks and must not return before other nodes can see them. No
        deadline here: a store outage makes it wait; callers wrap it in their own.
        """
        while not (settled := self._settled).is_set():
            await settled.wait()

    async def port_of(self, brick_path: str) -> int | None:
        """The port another node published for brick_path, or None (also when the store cannot
        be read: the client asks again on its next reconnect)."""
        try:
            return await find_port(self._store, brick_path, self._node.peer_id)
        except GD2Error as exc:
            log.warning("cannot look a brick port up in the store", brick=brick_path, error=exc.message)
            return None

    async def _desired(self) -> dict[str, PublishedBrick]:
        signed_in = {e.brick: (e.port, e.pid) for e in self._registry.entries()}
        if not signed_in:
            return {}
        volumes = []
        for entry in await self._store.list_prefix(keys.VOLUMES):
            try:
                volumes.append(Volume.model_validate(entry.value))
            except ValueError:
                log.warning("ignoring a malformed volume record", key=entry.key)
        return desired_bricks(self._node, volumes, signed_in)

    async def _reconcile(self, lease: int) -> None:
        desired = await self._desired()
        if self._published is None:
            # A new lease: whatever of ours is in the store (an older lease's, a previous run's)
            # is rewritten on this lease or removed.
            held = await self._store.list_prefix(keys.BRICKS)
            self._published = {e.key: None for e in held if _owner(e.key) == self._node.peer_id}
        deletes, puts = plan(desired, self._published)
        for key in deletes:
            await self._store.delete(key)
            del self._published[key]
        for brick in puts:
            await self._store.put(brick.key, keys.KIND_BRICK, brick.record(), lease=lease)
            self._published[brick.key] = brick
        if deletes or puts:
            log.debug("brick state published", written=len(puts), removed=len(deletes))

    async def _serve_lease(self, lease: int, ttl: int) -> None:
        self._published = None
        self._poke()
        refresh_at = trio.current_time() + ttl / 3
        retry_at = -math.inf  # after a failed write: not before then, even if woken
        while True:
            if self._dirty and trio.current_time() >= retry_at:
                self._dirty = False
                try:
                    await self._reconcile(lease)
                    if not self._dirty:
                        self._settled.set()
                except GD2Error as exc:
                    log.warning("cannot publish brick state; retrying", error=exc.message)
                    self._dirty = True
                    retry_at = trio.current_time() + RETRY_INTERVAL
            with trio.move_on_at(min(refresh_at, retry_at) if self._dirty else refresh_at):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            if trio.current_time() >= refresh_at:
                if await self._store.refresh_lease(lease) <= 0:
                    raise LeaseExpired
                refresh_at = trio.current_time() + ttl / 3

    async def run(self, ttl: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Publish this node's sign-ins on a lease of ttl seconds for as long as this runs.

        Started once the first lease is granted (a store that cannot grant one then is an error);
        afterwards a store outage is survived: the lease is granted again and everything
        republished when etcd answers. On the way out the lease is revoked, so other nodes see
        this node's bricks go at once.
        """
        remove = self._registry.listen(self._poke)
        started = False
        try:
            while True:
                try:
                    lease = await self._store.grant_lease(ttl)
                except GD2Error as exc:
                    if not started:
                        raise
                    log.warning("cannot grant the brick state lease; retrying", error=exc.message)
                    await trio.sleep(RETRY_INTERVAL)
                    continue
                if not started:
                    task_status.started()
                    started = True
                try:
                    await self._serve_lease(lease, ttl)
                except LeaseExpired:
                    log.warning("brick state lease expired; granting a new one")
                except GD2Error as exc:
                    log.warning("brick state lease lost; retrying", error=exc.message)
                    await trio.sleep(RETRY_INTERVAL)
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(GD2Error):
                        await self._store.revoke_lease(lease)
        finally:
            remove()
