"""The peer RPC layer over real grpc and TLS on loopback: members, strangers, joins, errors, deadlines, stop.

Two "clusters" with their own CAs: cluster A serves on 127.0.3.101, cluster B
(an empty node that will join A) on 127.0.3.102; the stop test uses .103.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import msgpack
import pytest
import trio

from gd2.errors import BrickError, Conflict, GD2Error, InternalError, NotFound
from gd2.peer import (
    Caller,
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    PeerClient,
    PeerRefused,
    PeerServer,
    PeerUnreachable,
    RemoteError,
    StepReply,
    StepRequest,
    TLSMaterial,
    UnknownStep,
    pki,
)

NET = int(os.environ.get("GD2_TEST_NET", "0"))
A_ADDRESS = f"127.0.{NET}.101"
B_ADDRESS = f"127.0.{NET}.102"
C_ADDRESS = f"127.0.{NET}.103"


class DaemonFailed(GD2Error):
    """An error code gd2.errors has no class for (it lives higher up in the daemon)."""

    code = "daemon_failed"


@dataclass
class Node:
    """A tiny application behind a PeerServer: answers Hello/Join and runs a few steps."""

    peer_id: str
    address: str
    cluster_id: str
    tls: TLSMaterial
    empty: bool = True
    server: PeerServer | None = None
    callers: list[tuple[str, Caller]] = field(default_factory=list)
    pending_key: bytes | None = None
    step_started: trio.Event = field(default_factory=trio.Event)
    step_cancelled: trio.Event = field(default_factory=trio.Event)

    async def hello(self, request: HelloRequest, caller: Caller) -> HelloReply:
        self.callers.append(("hello", caller))
        csr = None
        if request.want_csr:
            self.pending_key = pki.new_node_key()
            csr = pki.make_csr(self.pending_key, self.peer_id, [self.address])
        return HelloReply(peer_id=self.peer_id, name=f"node-{self.address}", addresses=(self.address,),
                          cluster_id=self.cluster_id, empty=self.empty, csr=csr)

    async def join(self, request: JoinRequest, caller: Caller) -> JoinReply:
        self.callers.append(("join", caller))
        if not self.empty:
            raise Conflict(f"peer {self.peer_id} is not empty: it has volumes or other peers")
        assert self.pending_key is not None and self.server is not None
        tls = TLSMaterial(request.ca_cert, request.node_cert, self.pending_key)
        await self.server.reload(tls)
        self.tls, self.cluster_id, self.empty = tls, request.cluster_id, False
        return JoinReply(extra=msgpack.packb({"joined": request.cluster_id, "etcd": list(request.etcd_endpoints)}))

    async def leave(self, request: LeaveRequest, caller: Caller) -> None:
        self.callers.append(("leave", caller))

    async def run_step(self, request: StepRequest, caller: Caller) -> StepReply:
        self.callers.append((request.step, caller))
        args = msgpack.unpackb(request.args)
        if request.step == "test.Echo":
            result = {"args": args, "txn": request.txn_id, "reqid": request.reqid, "undo": request.undo,
                      "by": caller.peer_id}
            return StepReply(result=msgpack.packb(result))
        if request.step == "test.BrickInUse":
            raise BrickError(f"brick path {args['path']} is already in use", {"brick": args["path"]})
        if request.step == "test.DaemonFailed":
            raise DaemonFailed("glusterfsd exited with status 1", {"brick": "h:/b1"})
        if request.step == "test.Bug":
            raise KeyError("oops")
        if request.step == "test.Sleep":
            self.step_started.set()
            try:
                await trio.sleep_forever()
            finally:
                self.step_cancelled.set()
        raise UnknownStep(request.step)


def step(name: str, args: object = None) -> StepRequest:
    return StepRequest(txn_id="txn-1", reqid="req-1", step=name, args=msgpack.packb(args))


def member_tls(ca: pki.CertifiedKey, peer_id: str, address: str) -> TLSMaterial:
    issued = pki.issue_node_cert(ca, peer_id, [address])
    return TLSMaterial(ca.cert, issued.cert, issued.key)


@dataclass
class Cluster:
    ca: pki.CertifiedKey
    node: Node
    server: PeerServer
    peer_port: int
    join_port: int

    def member(self, peer_id: str) -> TLSMaterial:
        """TLS material for another member of this cluster (a client only)."""
        return member_tls(self.ca, peer_id, "127.0.0.1")

    def client(self, tls: TLSMaterial) -> PeerClient:
        return PeerClient(self.node.address, self.peer_port, tls, peer_id=self.node.peer_id)


async def start_cluster(nursery: trio.Nursery, cluster_id: str, peer_id: str, address: str) -> Cluster:
    ca = pki.create_ca(cluster_id)
    node = Node(peer_id, address, cluster_id, member_tls(ca, peer_id, address))
    server = PeerServer(node, node.tls, address=address, peer_port=0, join_port=0)
    node.server = server
    ports = await nursery.start(server.serve)
    return Cluster(ca, node, server, ports.peer, ports.join)


@pytest.fixture
async def clusters() -> AsyncIterator[tuple[Cluster, Cluster]]:
    async with trio.open_nursery() as nursery:
        a = await start_cluster(nursery, "cluster-a", "peer-a1", A_ADDRESS)
        a.node.empty = False
        b = await start_cluster(nursery, "cluster-b", "peer-b1", B_ADDRESS)
        yield a, b
        nursery.cancel_scope.cancel()


async def test_member_runs_a_step(clusters: tuple[Cluster, Cluster]) -> None:
    a, _ = clusters
    async with a.client(a.member("peer-a2")) as client:
        with trio.fail_after(10):
            reply = await client.run_step(StepRequest(txn_id="t9", reqid="r9", step="test.Echo", undo=True,
                                                      args=msgpack.packb({"bricks": ["h:/b1", "h:/b2"]})))
    assert msgpack.unpackb(reply.result) == {"args": {"bricks": ["h:/b1", "h:/b2"]}, "txn": "t9", "reqid": "r9",
                                             "undo": True, "by": "peer-a2"}
    [(_, caller)] = a.node.callers
    assert caller.is_member and caller.peer_id == "peer-a2"


async def test_a_stranger_may_not_run_a_step(clusters: tuple[Cluster, Cluster]) -> None:
    a, _ = clusters
    with trio.fail_after(10):
        async with await PeerClient.trust_on_first_use(A_ADDRESS, a.join_port) as client:
            with pytest.raises(PeerRefused, match="only for members") as refused:
                await client.run_step(step("test.Echo"))
            with pytest.raises(PeerRefused, match="only for members"):
                await client.leave(LeaveRequest("cluster-a"))
    assert refused.value.code == "peer_refused"
    assert a.node.callers == []


async def test_a_certificate_of_another_ca_is_refused(clusters: tuple[Cluster, Cluster]) -> None:
    a, b = clusters
    # Trusts A's CA for the server, but presents a certificate from B's CA.
    foreign = b.member("peer-b2")
    tls = TLSMaterial(a.ca.cert, foreign.node_cert, foreign.node_key)
    async with a.client(tls) as client:
        with trio.fail_after(10), pytest.raises(PeerRefused, match="does not accept our certificate"):
            await client.run_step(step("test.Echo"))
    # And a client of B's CA does not trust A's server certificate.
    async with PeerClient(A_ADDRESS, a.peer_port, foreign, peer_id="peer-a1") as client:
        with trio.fail_after(10), pytest.raises(PeerRefused, match="not one we trust"):
            await client.run_step(step("test.Echo"))
    assert a.node.callers == []


async def test_a_stranger_says_hello_and_gets_a_csr(clusters: tuple[Cluster, Cluster]) -> None:
    _, b = clusters
    with trio.fail_after(10):
        async with await PeerClient.trust_on_first_use(B_ADDRESS, b.join_port) as client:
            assert client.pinned_cert == b.node.tls.node_cert
            reply = await client.hello(HelloRequest(want_csr=True))
    assert (reply.peer_id, reply.cluster_id, reply.addresses) == ("peer-b1", "cluster-b", (B_ADDRESS,))
    assert reply.empty
    assert reply.protocol_version == 1
    assert reply.csr is not None and pki.csr_peer_id(reply.csr) == "peer-b1"
    [(_, caller)] = b.node.callers
    assert not caller.is_member and caller.peer_id is None


async def test_a_join_refused_by_the_application_reads_the_same(clusters: tuple[Cluster, Cluster]) -> None:
    a, b = clusters
    with trio.fail_after(10):
        # B (as a member of its own pool) tries to add A, which is not empty.
        async with await PeerClient.trust_on_first_use(A_ADDRESS, a.join_port) as client:
            hello = await client.hello(HelloRequest(want_csr=True))
            assert hello.csr is not None and not hello.empty
            cert = pki.sign_csr(b.ca, hello.csr, expected_peer_id=hello.peer_id)
            with pytest.raises(Conflict) as refused:
                await client.join(JoinRequest("cluster-b", b.ca.cert, cert, (f"https://{B_ADDRESS}:2379",)))
    assert refused.value.message == "peer peer-a1 is not empty: it has volumes or other peers"
    assert refused.value.code == "conflict"
    assert [(name, caller.is_member) for name, caller in a.node.callers] == [("hello", False), ("join", False)]


async def test_join_then_reload_switches_the_cluster(clusters: tuple[Cluster, Cluster]) -> None:
    a, b = clusters
    old_member = b.member("peer-b2")
    with trio.fail_after(20):
        # A member of B with a connection open before the join.
        stale = b.client(old_member)
        await stale.run_step(step("test.Echo"))

        # A member of A adds B: trust on first use, CSR, signed certificate, join.
        async with await PeerClient.trust_on_first_use(B_ADDRESS, b.join_port) as client:
            hello = await client.hello(HelloRequest(want_csr=True))
            assert hello.empty and hello.csr is not None
            cert = pki.sign_csr(a.ca, hello.csr, expected_peer_id=hello.peer_id)
            joined = await client.join(JoinRequest("cluster-a", a.ca.cert, cert, (f"https://{A_ADDRESS}:2379",),
                                                   extra=msgpack.packb({"member": "peer-b1"})))
        assert msgpack.unpackb(joined.extra) == {"joined": "cluster-a", "etcd": [f"https://{A_ADDRESS}:2379"]}

        # Members of A are now accepted on B's peer port, and B's server proves it is peer-b1 of A.
        async with PeerClient(B_ADDRESS, b.peer_port, a.member("peer-a2"), peer_id="peer-b1") as client:
            reply = await client.run_step(step("test.Echo", [1]))
            assert msgpack.unpackb(reply.result)["by"] == "peer-a2"

        # The old CA is refused, on the connection that was already open and on a new one.
        with pytest.raises(PeerRefused, match="not from this node's current cluster CA"):
            await stale.run_step(step("test.Echo"))
        await stale.aclose()
        async with PeerClient(B_ADDRESS, b.peer_port, old_member, peer_id="peer-b1") as client:
            with pytest.raises(PeerRefused):
                await client.run_step(step("test.Echo"))


async def test_remote_errors_cross_as_data(clusters: tuple[Cluster, Cluster]) -> None:
    a, _ = clusters
    async with a.client(a.member("peer-a2")) as client:
        with trio.fail_after(10):
            with pytest.raises(BrickError) as brick:
                await client.run_step(step("test.BrickInUse", {"path": "/bricks/b1"}))
            with pytest.raises(RemoteError) as daemon:
                await client.run_step(step("test.DaemonFailed"))
            with pytest.raises(InternalError, match="RunStep failed on the peer: KeyError"):
                await client.run_step(step("test.Bug"))
            with pytest.raises(NotFound) as unknown:
                await client.run_step(step("vol-create.NoSuchStep"))
    local = BrickError("brick path /bricks/b1 is already in use", {"brick": "/bricks/b1"})
    assert (brick.value.code, brick.value.message, brick.value.fields) == (local.code, local.message, local.fields)
    assert (daemon.value.code, str(daemon.value), daemon.value.fields) == (
        "daemon_failed", "glusterfsd exited with status 1", {"brick": "h:/b1"})
    assert unknown.value.message == "step 'vol-create.NoSuchStep' is not known on this peer"
    assert unknown.value.fields == {"step": "vol-create.NoSuchStep"}


async def test_a_deadline_ends_the_call_and_the_remote_step(clusters: tuple[Cluster, Cluster]) -> None:
    a, _ = clusters
    async with a.client(a.member("peer-a2")) as client:
        with pytest.raises((PeerUnreachable, trio.TooSlowError)), trio.fail_after(1):
            await client.run_step(step("test.Sleep"))
        # The handler on the other side was cancelled, not left running.
        with trio.fail_after(10):
            await a.node.step_cancelled.wait()


async def test_unreachable_peer() -> None:
    tls = member_tls(pki.create_ca("cluster-x"), "peer-x", C_ADDRESS)
    async with PeerClient(C_ADDRESS, 1, tls) as client:
        with trio.fail_after(10), pytest.raises(PeerUnreachable) as unreachable:
            await client.hello()
    assert unreachable.value.code == "unavailable"
    assert unreachable.value.fields == {"peer": f"{C_ADDRESS}:1"}
    with trio.fail_after(10), pytest.raises(PeerUnreachable):
        await PeerClient.trust_on_first_use(C_ADDRESS, 1)


async def test_stop_while_a_call_is_in_flight() -> None:
    ca = pki.create_ca("cluster-c")
    node = Node("peer-c1", C_ADDRESS, "cluster-c", member_tls(ca, "peer-c1", C_ADDRESS))
    server = PeerServer(node, node.tls, address=C_ADDRESS, peer_port=0, join_port=0, stop_grace=0.5)
    ports = await server.start()
    outcome: list[BaseException] = []

    async def call() -> None:
        async with PeerClient(C_ADDRESS, ports.peer, member_tls(ca, "peer-c2", C_ADDRESS), peer_id="peer-c1") as c:
            try:
                await c.run_step(step("test.Sleep"))
            except GD2Error as exc:
                outcome.append(exc)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(call)
            await node.step_started.wait()
            await server.stop()
    assert node.step_cancelled.is_set()
    [error] = outcome
    assert isinstance(error, PeerUnreachable)
    await server.stop()  # stopping twice is fine
