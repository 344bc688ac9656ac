"""The pool: registering this node and listing peers with their liveness."""

from __future__ import annotations

import contextlib

import structlog
import trio

from gd2.api.models import Peer
from gd2.commands import keys
from gd2.errors import GD2Error
from gd2.model.node import LocalNode
from gd2.store import Store

log = structlog.get_logger(__name__)


class LeaseExpired(Exception):
    pass


class PeerService:
    def __init__(self, store: Store, node: LocalNode, *, peer_port: int | None = None, etcd_role: str = "") -> None:
        self._store = store
        self._node = node
        self._peer_port = peer_port
        self._etcd_role = etcd_role

    async def register_self(self) -> None:
        """Record this node in the pool (idempotent: addresses are refreshed)."""
        node = self._node
        record = Peer(id=node.peer_id, name=node.name, addresses=list(node.addresses), cluster_id=node.cluster_id,
                      peer_port=self._peer_port, etcd=self._etcd_role)
        await self._store.put(keys.peer(node.peer_id), keys.KIND_PEER, record.model_dump(exclude={"online"}))

    async def list(self) -> list[Peer]:
        peers = await self._store.list_prefix(keys.PEERS)
        alive = {e.key.removeprefix(keys.ALIVE) for e in await self._store.list_prefix(keys.ALIVE)}
        return sorted(
            (Peer.model_validate({**e.value, "online": e.value["id"] in alive}) for e in peers),
            key=lambda p: (p.id != self._node.peer_id, p.name, p.id),
        )

    async def keep_alive(self, ttl: int, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                         ) -> None:
        """Hold ``alive/<id>`` on a lease for as long as this runs.

        A store outage is survived: the lease is re-granted when etcd answers again.
        """
        started = False
        while True:
            try:
                lease = await self._store.grant_lease(ttl)
                await self._store.put(keys.alive(self._node.peer_id), keys.KIND_ALIVE,
                                      {"id": self._node.peer_id}, lease=lease)
                if not started:
                    task_status.started()
                    started = True
                try:
                    while True:
                        await trio.sleep(ttl / 3)
                        if await self._store.refresh_lease(lease) <= 0:
                            raise LeaseExpired
                finally:
                    with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(GD2Error):
                        await self._store.revoke_lease(lease)
            except LeaseExpired:
                log.warning("liveness lease expired; granting a new one")
            except GD2Error as exc:
                if not started:
                    raise
                log.warning("liveness lease lost; retrying", error=str(exc))
                await trio.sleep(1)
