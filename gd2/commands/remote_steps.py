"""Transaction steps on other nodes: the gd2.txn Executor over the peer protocol.

Steps for this node never come here (gd2.txn.RoutingExecutor sends them to
the local executor).  A peer is found by its record in the store (address
and peer port); one client (one gRPC channel) is kept per peer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import structlog
import trio

from gd2.api.models import Peer
from gd2.commands import keys
from gd2.errors import Unavailable
from gd2.peer import PeerClient, PeerUnreachable, StepRequest, TLSMaterial
from gd2.store import Store

log = structlog.get_logger(__name__)

# Waits between attempts at a peer that refuses connections (about 8 s in all); None: give up.
_RECONNECT_DELAYS: tuple[float | None, ...] = (0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.5, 1.5, 1.5, None)
_ONCE: tuple[float | None, ...] = (None,)


class PeerStepExecutor:
    """``run_step`` on another node of the pool (mutual TLS, the node's certificate checked)."""

    def __init__(self, store: Store, tls: Callable[[], TLSMaterial]) -> None:
        self._store = store
        self._tls = tls
        self._clients: dict[str, tuple[tuple[str, int], PeerClient]] = {}

    async def _client(self, node_id: str) -> PeerClient:
        entry = await self._store.get(keys.peer(node_id))
        if entry is None:
            raise Unavailable(f"peer {node_id} is not in the pool", {"peer": node_id})
        peer = Peer.model_validate(entry.value)
        if not peer.addresses or not peer.peer_port:
            raise Unavailable(f"peer {peer.name} has not said where it listens yet", {"peer": node_id})
        where = (peer.addresses[0], peer.peer_port)
        cached = self._clients.get(node_id)
        if cached is not None and cached[0] == where:
            return cached[1]
        if cached is not None:
            await cached[1].aclose()
        client = PeerClient(where[0], where[1], self._tls(), peer_id=node_id)
        self._clients[node_id] = (where, client)
        return client

    async def run_step(self, node_id: str, txnid: str, reqid: str, step: str, args: Any, undo: bool) -> Any:
        # A peer restarting in-process (after a join or an etcd promotion) refuses connections for
        # a moment: a call that never got through is sent again, for a bounded time.
        return await self._run(node_id, txnid, reqid, step, args, undo, _RECONNECT_DELAYS)

    def once(self) -> _Once:
        """This executor (its connections too) without the reconnect retries, for best-effort calls:
        a peer that refuses is skipped at once (hook scripts run on the nodes reachable now, as
        glusterd1 runs them on its connected peers), rather than after ~8 s when it is dead."""
        return _Once(self)

    async def _run(self, node_id: str, txnid: str, reqid: str, step: str, args: Any, undo: bool,
                   delays: tuple[float | None, ...]) -> Any:
        request = StepRequest(txn_id=txnid, reqid=reqid, step=step, undo=undo, args=bytes(msgpack.packb(args)))
        for delay in delays:
            client = await self._client(node_id)
            try:
                reply = await client.run_step(request)
                break
            except PeerUnreachable as exc:
                if not exc.never_sent or delay is None:
                    raise
                log.info("peer not accepting connections; trying again", peer=node_id, step=step, wait=delay)
                await trio.sleep(delay)
        return msgpack.unpackb(reply.result) if reply.result else None

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for _where, client in clients.values():
            await client.aclose()


class _Once:
    """A PeerStepExecutor that does not retry a peer refusing connections (PeerStepExecutor.once)."""

    def __init__(self, executor: PeerStepExecutor) -> None:
        self._executor = executor

    async def run_step(self, node_id: str, txnid: str, reqid: str, step: str, args: Any, undo: bool) -> Any:
        return await self._executor._run(node_id, txnid, reqid, step, args, undo, _ONCE)
