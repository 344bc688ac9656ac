"""How this node answers the peer protocol (gd2.peer.PeerHandlers).

Hello and Join make a node part of a pool; Leave makes it a pool of one
again; RunStep runs a transaction step here (gd2.txn.LocalExecutor).  Join,
Leave and an etcd promotion change what this node is (its cluster id, CA,
etcd role), so after answering they restart the daemon in-process: every
listener and the etcd child stop and start again from the new state on disk,
while bricks keep running and are adopted (a joining node has none).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import structlog
import trio

from gd2.commands import keys
from gd2.commands.pool import JoinSettings, NodePorts
from gd2.daemon.state import PoolState, forget_pool, save_pool, set_cluster_id
from gd2.daemon.tls import adopt_tls
from gd2.errors import Conflict, InvalidRequest
from gd2.model.node import LocalNode
from gd2.peer import (
    Caller,
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    StepReply,
    StepRequest,
    TLSMaterial,
    pki,
)
from gd2.store import Store
from gd2.txn import LocalExecutor, StepContext

log = structlog.get_logger(__name__)


class Membership:
    """The application side of the peer server on this node."""

    def __init__(self, *, node: LocalNode, store: Store, executor: LocalExecutor, ports: NodePorts,
                 localstatedir: Path, restart: Callable[[], None]) -> None:
        self._node = node
        self._store = store
        self._executor = executor
        self._ports = ports
        self._statedir = localstatedir
        self._restart = restart
        self._pending_key: bytes | None = None
        self._changing = trio.Lock()  # one join/leave at a time

    async def _is_empty(self) -> bool:
        volumes = await self._store.list_prefix(keys.VOLUMES)
        peers = [e for e in await self._store.list_prefix(keys.PEERS) if e.key != keys.peer(self._node.peer_id)]
        return not volumes and not peers

    async def hello(self, request: HelloRequest, caller: Caller) -> HelloReply:
        csr = None
        if request.want_csr:
            self._pending_key = pki.new_node_key()
            csr = pki.make_csr(self._pending_key, self._node.peer_id, self._node.addresses)
        return HelloReply(peer_id=self._node.peer_id, name=self._node.name, addresses=self._node.addresses,
                          cluster_id=self._node.cluster_id, empty=await self._is_empty(), csr=csr,
                          extra=self._ports.pack())

    async def join(self, request: JoinRequest, caller: Caller) -> JoinReply:
        async with self._changing:
            if not await self._is_empty():
                raise Conflict(f"{self._node.name} is not empty (it has volumes or peers); it cannot join another "
                               "pool")
            key = self._pending_key
            if key is None:
                raise InvalidRequest("join without a certificate request: ask Hello with want_csr first")
            settings = JoinSettings.unpack(request.extra)
            tls = TLSMaterial(ca_cert=request.ca_cert, node_cert=request.node_cert, node_key=key)
            pki.check_material(tls)
            if pki.verify_node_cert(request.node_cert, request.ca_cert) != self._node.peer_id:
                raise InvalidRequest("the certificate offered is not for this node")
            adopt_tls(self._statedir, tls)
            save_pool(self._statedir, PoolState(
                etcd_role=settings.etcd_role, initial_cluster=settings.initial_cluster, initial_state="existing",
                endpoints=settings.etcd_endpoints, reset_etcd=settings.etcd_role == "member"))
            set_cluster_id(self._statedir, self._node, request.cluster_id)
            self._pending_key = None
            log.info("joining pool", cluster_id=request.cluster_id, etcd=settings.etcd_role, caller=caller.address)
            self._restart()
            return JoinReply()

    async def leave(self, request: LeaveRequest, caller: Caller) -> None:
        async with self._changing:
            if request.cluster_id != self._node.cluster_id:
                raise InvalidRequest(f"this node is not in pool {request.cluster_id}")
            log.warning("removed from the pool; starting over as a pool of one", by=caller.peer_id)
            forget_pool(self._statedir, self._node)
            self._restart()

    async def run_step(self, request: StepRequest, caller: Caller) -> StepReply:
        args = msgpack.unpackb(request.args) if request.args else None
        result = await self._executor.run_step(self._node.peer_id, request.txn_id, request.reqid, request.step,
                                               args, request.undo)
        return StepReply(result=bytes(msgpack.packb(result)))

    async def become_etcd_member(self, ctx: StepContext, args: Any) -> None:
        """The ``pool.BecomeEtcdMember`` step: a client node is promoted (its etcd was added already)."""
        settings = JoinSettings.unpack(bytes(msgpack.packb(args)))
        save_pool(self._statedir, PoolState(etcd_role="member", initial_cluster=settings.initial_cluster,
                                            initial_state="existing", endpoints=settings.etcd_endpoints,
                                            reset_etcd=True))
        log.info("promoted to etcd member", txnid=ctx.txnid)
        self._restart()
