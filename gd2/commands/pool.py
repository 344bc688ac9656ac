"""Growing and shrinking the pool: `peer add` and `peer remove`, run on a member.

Adding a node (the *joinee*, reached on its join port):

1. Hello, trusting the joinee's certificate on first use (docs/peers.md): who
   it is, whether it is empty (no volumes, no other peers), a CSR for a new
   key of its own, and where its etcd and peer ports are.
2. Under the pool lock: sign the CSR with the cluster CA (kept in the store),
   record the peer, and, while the etcd cluster has fewer members than
   ``etcd-members``, add the joinee's etcd as a member.
3. Join: the joinee stores the CA, its certificate and the etcd settings,
   and starts again inside the pool (same process; it is empty).
4. Wait until the joinee's liveness key shows up in the pool's store.

Any failure undoes what was done, in reverse, shielded and bounded.  These
are not journaled transaction steps (gd2.txn): adding an etcd member changes
the quorum of the very store a journal would be written to, so the journal
write after that step could not commit until the joinee's etcd runs.

Removing a node: refused while it hosts bricks; refused while it is offline
unless forced.  Its etcd member is removed, its records deleted, and, if it
is reachable, it is told to Leave (it then starts over as a pool of its own).
When a member node goes, a client node is promoted to keep ``etcd-members``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack
import structlog
import trio

from gd2.api.events import EventKind
from gd2.api.models import Peer
from gd2.commands import keys
from gd2.commands.peers import PeerService
from gd2.errors import Conflict, GD2Error, InvalidRequest, NotFound, Unavailable
from gd2.events import NO_EVENTS, EventSink
from gd2.model.node import LocalNode
from gd2.peer import (
    PROTOCOL_VERSION,
    HelloRequest,
    JoinRequest,
    LeaveRequest,
    PeerClient,
    StepRequest,
    TLSMaterial,
)
from gd2.peer.pki import CertifiedKey, sign_csr
from gd2.store import Store
from gd2.store.membership import Member, MembershipRefused
from gd2.txn.locks import LockHolder, acquire, keep_lease, release_quietly

log = structlog.get_logger(__name__)

POOL_LOCK = "pool"
CA_KEY = "pki/ca"
KIND_CA = "ca"
PROMOTE_STEP = "pool.BecomeEtcdMember"


class EtcdMembership(Protocol):
    """What the pool needs of the store adapter to manage etcd's members."""

    async def members(self) -> list[Member]: ...

    async def add_member(self, peer_url: str) -> Member: ...

    async def remove_member(self, member_id: int) -> None: ...


@dataclass(frozen=True)
class JoinSettings:
    """What a joinee is told besides its certificate (the ``extra`` of Join, msgpack)."""

    etcd_role: str  # "member" or "client"
    initial_cluster: dict[str, str]  # etcd member name -> peer URL, the joinee included when a member
    etcd_endpoints: tuple[str, ...]

    def pack(self) -> bytes:
        return bytes(msgpack.packb({"etcd_role": self.etcd_role, "initial_cluster": self.initial_cluster,
                                    "etcd_endpoints": list(self.etcd_endpoints)}))

    @classmethod
    def unpack(cls, data: bytes) -> JoinSettings:
        try:
            raw = msgpack.unpackb(data)
            role = str(raw["etcd_role"])
            cluster = {str(k): str(v) for k, v in dict(raw["initial_cluster"]).items()}
            endpoints = tuple(str(e) for e in raw["etcd_endpoints"])
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            raise InvalidRequest(f"malformed join settings: {exc}") from None
        if role not in ("member", "client"):
            raise InvalidRequest(f"malformed join settings: etcd role {role!r}")
        return cls(role, cluster, endpoints)


@dataclass(frozen=True)
class NodePorts:
    """Where a node answers (the ``extra`` of its Hello, msgpack)."""

    peer_port: int
    join_port: int
    etcd_peer_url: str
    etcd_client_url: str

    def pack(self) -> bytes:
        return bytes(msgpack.packb({"peer_port": self.peer_port, "join_port": self.join_port,
                                    "etcd_peer_url": self.etcd_peer_url,
                                    "etcd_client_url": self.etcd_client_url}))

    @classmethod
    def unpack(cls, data: bytes) -> NodePorts:
        try:
            raw = msgpack.unpackb(data)
            return cls(int(raw["peer_port"]), int(raw["join_port"]), str(raw["etcd_peer_url"]),
                       str(raw["etcd_client_url"]))
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            raise InvalidRequest(f"the node did not say where its ports are ({exc})") from None


class PoolService:
    """``peer add`` / ``peer remove`` on this (member) node."""

    events: EventSink = NO_EVENTS  # the composition root sets the pool's event publisher

    def __init__(self, store: Store, etcd: EtcdMembership | None, node: LocalNode, peers: PeerService,
                 tls: Callable[[], TLSMaterial], *, etcd_members: int, join_port: int,
                 join_timeout: float = 60.0, lock_ttl: int = 10, lock_wait: float = 10.0,
                 member_grace: float = 60.0) -> None:
        self._store = store
        self._etcd = etcd
        self._node = node
        self._peers = peers
        self._tls = tls
        self._etcd_members = etcd_members
        self._join_port = join_port
        self._join_timeout = join_timeout
        self._lock_ttl = lock_ttl
        self._lock_wait = lock_wait
        self._member_grace = member_grace
        self._down_since: dict[str, float] = {}  # etcd members whose node is offline, since when

    # ---- the CA ---------------------------------------------------------------------------------

    async def publish_ca(self, ca: CertifiedKey) -> None:
        """Keep the CA in the store (once, when the pool is born) so any member can sign joins."""
        await self._store.create(CA_KEY, KIND_CA, {"cert": ca.cert.decode(), "key": ca.key.decode()})

    async def _ca(self) -> CertifiedKey:
        entry = await self._store.get(CA_KEY)
        if entry is None:
            raise Unavailable("the pool's CA is not in the store yet; try again in a moment")
        return CertifiedKey(str(entry.value["cert"]).encode(), str(entry.value["key"]).encode())

    # ---- locking --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _pool_lock(self) -> AsyncIterator[None]:
        txnid = uuid.uuid4().hex[:12]
        lease = await self._store.grant_lease(self._lock_ttl)
        try:
            await acquire(self._store, [POOL_LOCK], LockHolder(txnid, self._node.peer_id, self._node.name),
                          lease, wait=self._lock_wait)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(keep_lease, self._store, lease, self._lock_ttl)
                    try:
                        yield
                    finally:
                        nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:  # the body's own error, not a group of the lease keeper's
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await release_quietly(self._store, [POOL_LOCK], txnid, lease)

    # ---- peer add -------------------------------------------------------------------------------

    async def add(self, host: str, port: int | None = None) -> Peer:
        port = port or self._join_port
        stranger = await PeerClient.trust_on_first_use(host, port)
        async with stranger:
            hello = await stranger.hello(HelloRequest(want_csr=True))
            if hello.protocol_version != PROTOCOL_VERSION:
                raise InvalidRequest(f"{host} speaks peer protocol {hello.protocol_version}, this node "
                                     f"{PROTOCOL_VERSION}; upgrade one of them first", {"host": host})
            if hello.peer_id == self._node.peer_id:
                raise InvalidRequest(f"{host} is this node", {"host": host})
            known = {p.id: p for p in await self._peers.list()}
            if hello.peer_id in known:
                raise Conflict(f"{host} is already in the pool as {known[hello.peer_id].name}", {"host": host})
            if not hello.empty:
                raise Conflict(f"{host} is not empty: it has volumes or peers of its own (pool "
                               f"{hello.cluster_id}); delete them, or wipe that node, before adding it",
                               {"host": host})
            if hello.csr is None:
                raise InvalidRequest(f"{host} sent no certificate request", {"host": host})
            ports = NodePorts.unpack(hello.extra)
            async with self._pool_lock():
                peer = Peer(id=hello.peer_id, name=hello.name, addresses=list(hello.addresses) or [host],
                            cluster_id=self._node.cluster_id, peer_port=ports.peer_port, etcd="client")
                await self._join(stranger, hello.csr, peer, ports)
        log.info("peer added", peer=peer.id, name=peer.name, address=host)
        self.events.emit(EventKind.PEER_ADD, peer=peer.id, message=f"peer {peer.name} ({host}) joined the pool")
        return (await self._find(peer.id)) or peer

    async def _join(self, stranger: PeerClient, csr: bytes, peer: Peer, ports: NodePorts) -> None:
        undo: list[tuple[str, Callable[[], Any]]] = []
        try:
            cert = sign_csr(await self._ca(), csr, expected_peer_id=peer.id)
            members = await self._etcd.members() if self._etcd is not None else []
            started = [m for m in members if m.started]
            role = "member" if self._etcd is not None and len(members) < self._etcd_members else "client"
            peer = peer.model_copy(update={"etcd": role})
            if not await self._store.create(keys.peer(peer.id), keys.KIND_PEER,
                                            peer.model_dump(mode="json", exclude={"online"})):
                raise Conflict(f"{peer.name} is already in the pool", {"peer": peer.id})
            undo.append(("forget the peer record", lambda: self._store.delete(keys.peer(peer.id))))
            endpoints = tuple(url for m in started for url in m.client_urls)
            cluster = {m.name: m.peer_urls[0] for m in started if m.peer_urls}
            if role == "member":
                assert self._etcd is not None
                try:
                    added = await self._etcd.add_member(ports.etcd_peer_url)
                except MembershipRefused as exc:
                    # etcd wants its newest member connected for 5 s first: join as a client
                    # now; keep_etcd_members promotes this node moments later.
                    log.info("joining as an etcd client for now", peer=peer.id, reason=exc.message)
                    role = "client"
                    await self._set_role(peer.id, "client")
                else:
                    member_id = added.id
                    undo.append(("remove the etcd member", lambda: self._etcd_remove(member_id)))
                    cluster[peer.id] = ports.etcd_peer_url
                    endpoints = (*endpoints, ports.etcd_client_url)
            settings = JoinSettings(role, cluster, endpoints)
            ca_cert = self._tls().ca_cert
            await stranger.join(JoinRequest(cluster_id=self._node.cluster_id, ca_cert=ca_cert, node_cert=cert,
                                            etcd_endpoints=endpoints, extra=settings.pack()))
            await self._wait_alive(peer)
        except BaseException as exc:
            with trio.CancelScope(shield=True), trio.move_on_after(15) as scope:
                for what, action in reversed(undo):
                    try:
                        await action()
                    except GD2Error as error:
                        log.error("undo of peer add failed", step=what, error=error.message)
                        exc.add_note(f"undo ({what}) failed: {error.message}")
            if scope.cancelled_caught:
                exc.add_note("undo of peer add did not finish within 15s")
            raise

    async def _add_etcd_member(self, peer_url: str) -> Member:
        """etcd refuses to add a member until the newest one has been connected for 5 s: wait for that."""
        assert self._etcd is not None
        with trio.move_on_after(30):
            while True:
                try:
                    return await self._etcd.add_member(peer_url)
                except MembershipRefused as exc:
                    log.info("etcd not ready for a new member yet; retrying", reason=exc.message)
                    await trio.sleep(1)
        return await self._etcd.add_member(peer_url)

    async def _set_role(self, peer_id: str, role: str) -> None:
        record = await self._store.get(keys.peer(peer_id))
        if record is not None:
            await self._store.update(keys.peer(peer_id), keys.KIND_PEER, {**record.value, "etcd": role},
                                     record.mod_revision)

    async def _etcd_remove(self, member_id: int) -> None:
        assert self._etcd is not None
        await self._etcd.remove_member(member_id)

    async def _wait_alive(self, peer: Peer) -> None:
        with trio.move_on_after(self._join_timeout):
            while True:
                try:
                    if await self._store.get(keys.alive(peer.id)) is not None:
                        return
                except Unavailable as exc:  # etcd changing leader as the new member comes in: transient
                    log.info("waiting for the joining node", error=exc.message)
                await trio.sleep(0.1)
        raise Unavailable(f"{peer.name} accepted to join but did not come up within {self._join_timeout:g}s "
                          "(see its log)", {"peer": peer.id})

    # ---- peer remove ----------------------------------------------------------------------------

    async def _find(self, ref: str) -> Peer | None:
        for peer in await self._peers.list():
            if ref in (peer.id, peer.name, *peer.addresses):
                return peer
        return None

    async def remove(self, ref: str, *, force: bool = False) -> None:
        peer = await self._find(ref)
        if peer is None:
            raise NotFound(f"no peer {ref} in the pool", {"peer": ref})
        if peer.id == self._node.peer_id:
            raise InvalidRequest("a node cannot remove itself; run `peer remove` on another member",
                                 {"peer": ref})
        volumes = [e.value for e in await self._store.list_prefix(keys.VOLUMES)]
        hosted = sorted({v["name"] for v in volumes for b in v.get("bricks", []) if b.get("peer_id") == peer.id})
        if hosted:
            raise Conflict(f"{peer.name} hosts bricks of {', '.join(hosted)}; remove those volumes or bricks "
                           "first", {"peer": peer.id})
        if not peer.online and not force:
            raise Conflict(f"{peer.name} is offline; `peer remove {ref} force` removes it anyway",
                           {"peer": peer.id})
        async with self._pool_lock():
            await self._remove_etcd_member(peer)
            await self._store.delete(keys.peer(peer.id))
            await self._store.delete(keys.alive(peer.id))
        if peer.online:
            try:
                async with self._member_client(peer) as client:
                    with trio.fail_after(10):
                        await client.leave(LeaveRequest(cluster_id=self._node.cluster_id))
            except (GD2Error, trio.TooSlowError) as exc:
                log.warning("removed peer was not told to leave", peer=peer.id, error=str(exc))
        log.info("peer removed", peer=peer.id, name=peer.name, forced=force)
        self.events.emit(EventKind.PEER_REMOVE, peer=peer.id, message=f"peer {peer.name} removed from the pool"
                         + (" (forced)" if force else ""))
        await self.keep_etcd_members()

    async def _remove_etcd_member(self, peer: Peer) -> None:
        if self._etcd is None:
            return
        for member in await self._etcd.members():
            if member.name == peer.id:
                # etcd refuses to remove a live member until every member has been connected for 5 s.
                for attempt in range(15):
                    try:
                        await self._etcd.remove_member(member.id)
                        break
                    except MembershipRefused as exc:
                        if attempt == 14:
                            raise
                        log.info("etcd not ready to remove a member yet; retrying", reason=exc.message)
                        await trio.sleep(1)
                log.info("etcd member removed", peer=peer.id)

    def _member_client(self, peer: Peer) -> PeerClient:
        return PeerClient(peer.addresses[0], peer.peer_port or 0, self._tls(), peer_id=peer.id)

    # ---- keeping etcd-members -------------------------------------------------------------------

    async def keep_etcd_members(self) -> None:
        """Keep ``etcd-members`` members on live nodes.

        A member whose node has been offline for longer than ``etcd-member-grace``
        is replaced when an online client node can take its place (removed
        first: with 3 members, 2 still make a quorum for the change); client
        nodes are promoted while there are fewer members than wanted.
        """
        if self._etcd is None:
            return
        try:
            members = await self._etcd.members()
            peers = await self._peers.list()
            online = {p.id for p in peers if p.online}
            now = trio.current_time()
            for member in members:
                name = member.name
                if name and name not in online:
                    self._down_since.setdefault(name, now)
                else:
                    self._down_since.pop(name, None)
            overdue = [m for m in members if now - self._down_since.get(m.name, now) >= self._member_grace]
            clients = [p for p in peers if p.online and p.etcd == "client"]
            if len(members) >= self._etcd_members and not (overdue and clients):
                return
            async with self._pool_lock():  # one node changes etcd's membership at a time
                for member in overdue[: len(clients)]:
                    await self._replace_dead_member(member)
                members = await self._etcd.members()
                names = {m.name for m in members}
                candidates = [p for p in await self._peers.list()
                              if p.online and p.id not in names and p.etcd == "client"]
                for peer in candidates[: self._etcd_members - len(members)]:
                    await self._promote(peer)
        except GD2Error as exc:
            log.warning("cannot keep etcd at its wanted size now", error=exc.message)

    async def _replace_dead_member(self, member: Member) -> None:
        assert self._etcd is not None
        name = member.name
        await self._etcd.remove_member(member.id)
        self._down_since.pop(name, None)
        await self._set_role(name, "client")  # when it comes back, it finds its member gone: a client
        log.warning("etcd member of an offline node removed", peer=name, grace=self._member_grace)

    async def _promote(self, peer: Peer) -> None:
        """Make a client node an etcd member: add it to etcd, then tell it (a step it runs)."""
        assert self._etcd is not None
        async with self._member_client(peer) as client:
            with trio.fail_after(10):
                hello = await client.hello(HelloRequest())
            ports = NodePorts.unpack(hello.extra)
            members = await self._etcd.members()
            cluster = {m.name: m.peer_urls[0] for m in members if m.started and m.peer_urls}
            endpoints = [url for m in members for url in m.client_urls]
            added = await self._add_etcd_member(ports.etcd_peer_url)
            cluster[peer.id] = ports.etcd_peer_url
            settings = JoinSettings("member", cluster, (*endpoints, ports.etcd_client_url))
            try:
                with trio.fail_after(10):
                    await client.run_step(StepRequest(txn_id=uuid.uuid4().hex[:12], reqid="", step=PROMOTE_STEP,
                                                      args=settings.pack()))
            except BaseException:
                with trio.CancelScope(shield=True), trio.move_on_after(10), contextlib.suppress(GD2Error):
                    await self._etcd.remove_member(added.id)
                raise
        await self._set_role(peer.id, "member")
        log.info("client node promoted to etcd member", peer=peer.id, name=peer.name)
