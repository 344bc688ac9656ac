"""A multi-member etcd cluster run by gd2.store: grow, lose a member, heal, restart the whole pool.

Real etcd processes, one per address (127.0.N.101, .102, ...) on the usual
2379/2380, each supervised by :class:`EmbeddedEtcd` as a glusterd2 node would:
https on both URLs, each member with a certificate of one test CA.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

import pytest
import trio

from gd2.errors import InvalidRequest, Unavailable
from gd2.peer import pki
from gd2.store.embedded import EmbeddedEtcd, EtcdMember, reset_datadir
from gd2.store.etcd import EtcdStore
from gd2.store.membership import (
    Member,
    MemberExists,
    MemberNotFound,
    MemberRemoved,
    MembershipRefused,
    join_initial_cluster,
)
from gd2.store.tls import EtcdTLS

pytestmark = pytest.mark.integration

TEST_NET = int(os.environ.get("GD2_TEST_NET", "0"))
RPC_TIMEOUT = 2.0
# Bounds for waits that depend on etcd, never asserted as timings.
START_TIMEOUT = 20.0
QUORUM_WAIT = 20.0
# etcd refuses a member change until every live member has been connected for 5 s.
CHANGE_WAIT = 20.0

T = TypeVar("T")


class _Relay:
    """Passes ``started()`` on, remembering that it was called."""

    def __init__(self, status: trio.TaskStatus[None]) -> None:
        self._status = status
        self.started_once = False

    def started(self, value: None = None) -> None:
        self.started_once = True
        self._status.started(value)


@functools.cache
def _ca() -> pki.CertifiedKey:
    return pki.create_ca("gd2-test-cluster")


def _node_tls(directory: Path, name: str, address: str) -> EtcdTLS:
    """A certificate of the test CA for one member, as a glusterd2 node has from its pool."""
    own = pki.issue_node_cert(_ca(), name, [address])
    pki.save_tls(directory, pki.TLSMaterial(ca_cert=_ca().cert, node_cert=own.cert, node_key=own.key))
    return EtcdTLS(directory / pki.CA_FILE, directory / pki.NODE_CERT_FILE, directory / pki.NODE_KEY_FILE)


class Node:
    """One would-be glusterd2 node's etcd member, started and stopped on demand."""

    def __init__(self, base: Path, name: str, address: str, nursery: trio.Nursery) -> None:
        home = base / name
        home.mkdir()
        self.member = EtcdMember(
            name=name, address=address, client_port=2379, peer_port=2380, datadir=home / "etcd",
            logfile=home / "etcd.log", pidfile=home / "etcd.pid", cluster_token="gd2-test-cluster",
            tls=_node_tls(home / "tls", name, address),
        )
        self._nursery = nursery
        self._scope: trio.CancelScope | None = None
        self._done = trio.Event()
        self.etcd: EmbeddedEtcd | None = None
        self.removed: MemberRemoved | None = None

    @property
    def name(self) -> str:
        return self.member.name

    async def start(self, *, need_quorum: bool = False, initial_cluster: dict[str, tuple[str, ...]] | None = None,
                    initial_state: Literal["new", "existing"] | None = None) -> None:
        """Start (or restart) this member; returns once etcd is ready in the given sense."""
        if initial_cluster is not None or initial_state is not None:
            self.member = dataclasses.replace(self.member, initial_cluster=initial_cluster,
                                              initial_state=initial_state or self.member.initial_state)
        etcd = EmbeddedEtcd(self.member, start_timeout=START_TIMEOUT, stop_grace=3)
        self.etcd, self._done, self.removed = etcd, trio.Event(), None
        done = self._done

        async def supervise(*, task_status: trio.TaskStatus[None]) -> None:
            relay = _Relay(task_status)
            try:
                with trio.CancelScope() as self._scope:
                    await etcd.run(need_quorum=need_quorum, task_status=relay)
            except MemberRemoved as exc:
                if not relay.started_once:
                    raise  # nursery.start() raises it
                self.removed = exc
            finally:
                done.set()

        try:
            await self._nursery.start(supervise)
        except MemberRemoved as exc:
            self.removed = exc

    async def stop(self) -> None:
        """SIGTERM (then SIGKILL) through the supervisor; returns once reaped."""
        assert self._scope is not None
        self._scope.cancel()
        with trio.fail_after(15):
            await self._done.wait()

    async def kill9(self) -> None:
        """Kill etcd with SIGKILL, and keep it from being restarted."""
        assert self.etcd is not None and self.etcd.pid is not None
        os.kill(self.etcd.pid, signal.SIGKILL)
        await self.stop()

    async def wait_quorum(self) -> None:
        assert self.etcd is not None
        with trio.fail_after(QUORUM_WAIT):
            await self.etcd.wait_quorum()

    async def exited(self) -> None:
        with trio.fail_after(QUORUM_WAIT):
            await self._done.wait()


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[Callable[[str], Node]]:
    """Make nodes a, b, c... on 127.0.N.101, .102, ...; every etcd is stopped at the end."""
    async with trio.open_nursery() as nursery:
        made: list[Node] = []

        def make(name: str) -> Node:
            node = Node(tmp_path, name, f"127.0.{TEST_NET}.{101 + len(made)}", nursery)
            made.append(node)
            return node

        try:
            yield make
        finally:
            nursery.cancel_scope.cancel()  # each supervisor stops its etcd, shielded


async def when_allowed(change: Callable[[], Awaitable[T]]) -> T:
    """Retry a member change while etcd protects its quorum (a member connected < 5 s ago)."""
    with trio.fail_after(CHANGE_WAIT):
        while True:
            try:
                return await change()
            except MembershipRefused:
                await trio.sleep(0.25)


async def add_member(store: EtcdStore, node: Node) -> Member:
    return await when_allowed(lambda: store.add_member(node.member.peer_url))


async def join(store: EtcdStore, node: Node) -> None:
    """What the pool logic does to grow the cluster by ``node``."""
    added = await add_member(store, node)
    assert not added.started and added.peer_urls == (node.member.peer_url,)
    # Right after the add the cluster may lack quorum (1 -> 2 members): read etcd's own view.
    cluster = join_initial_cluster(await store.members(require_quorum=False), node.name, node.member.peer_url)
    reset_datadir(node.member)
    await node.start(initial_cluster=cluster, initial_state="existing")
    await node.wait_quorum()


async def three_members(nodes: Callable[[str], Node]) -> tuple[list[Node], EtcdStore]:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    await a.start(need_quorum=True)  # the first node: a single member, as today
    store = EtcdStore([a.member.client_url], f"gd2/{uuid.uuid4()}", rpc_timeout=RPC_TIMEOUT, tls=a.member.tls)
    await join(store, b)
    await join(store, c)
    store.set_endpoints([n.member.client_url for n in (a, b, c)])
    return [a, b, c], store


async def test_grow_to_three_then_remove_a_live_member(nodes: Callable[[str], Node]) -> None:
    (a, b, c), store = await three_members(nodes)
    try:
        members = await store.members()
        assert sorted(m.name for m in members) == ["a", "b", "c"]
        assert all(m.started for m in members)
        assert {m.client_urls for m in members} == {(n.member.client_url,) for n in (a, b, c)}
        assert await store.leader_id() in {m.id for m in members}

        only_a = EtcdStore([a.member.client_url], store.prefix, rpc_timeout=RPC_TIMEOUT, tls=a.member.tls)
        only_c = EtcdStore([c.member.client_url], store.prefix, rpc_timeout=RPC_TIMEOUT, tls=c.member.tls)
        await only_a.put("volumes/v", "volume", {"name": "v"})
        entry = await only_c.get("volumes/v")
        assert entry is not None and entry.value == {"name": "v"}
        await only_a.close()

        # A removed member's etcd exits by itself, and is not restarted.
        [c_member] = [m for m in members if m.name == "c"]
        await when_allowed(lambda: store.remove_member(c_member.id))
        await c.exited()
        assert c.removed is not None and "reset" in str(c.removed)
        assert sorted(m.name for m in await store.members()) == ["a", "b"]
        with pytest.raises(MemberNotFound):
            await store.remove_member(c_member.id)
        # ...and exits again if restarted on its old data (having listened for a moment).
        await c.start(need_quorum=False)
        await c.exited()
        assert c.removed is not None
        await only_c.close()
    finally:
        await store.close()


async def retry_unavailable(write: Callable[[], Awaitable[T]]) -> T:
    """What a caller does while etcd elects a new leader: try again, within a bound."""
    with trio.fail_after(QUORUM_WAIT):
        while True:
            try:
                return await write()
            except Unavailable:
                await trio.sleep(0.1)


async def test_kill_one_of_three_then_replace_it(nodes: Callable[[str], Node]) -> None:
    (a, b, c), store = await three_members(nodes)
    try:
        members = {m.id: m for m in await store.members()}
        leader = members[await store.leader_id() or 0]
        dead, follower = [n for n in (a, b, c) if n.name != leader.name]
        alive = [follower, next(n for n in (a, b, c) if n.name == leader.name)]
        # The store talks to a follower, which dies: no election, only failover.
        store.set_endpoints([n.member.client_url for n in (dead, *alive)])
        await store.put("volumes/before", "volume", {})
        assert store.current_endpoint == dead.member.client_url
        await dead.kill9()
        for i in range(5):
            await store.put(f"volumes/after-{i}", "volume", {"i": i})
        assert store.current_endpoint != dead.member.client_url
        assert await store.create("volumes/cas", "volume", {}) is True
        assert len(await store.members()) == 3

        # A dead member must go before a new one can come.
        [dead_member] = [m for m in members.values() if m.name == dead.name]
        await store.remove_member(dead_member.id)
        d = nodes("d")
        await join(store, d)
        members = {m.id: m for m in await store.members()}
        assert sorted(m.name for m in members.values()) == sorted(n.name for n in (*alive, d))
        assert all(m.started for m in members.values())
        store.set_endpoints([u for m in members.values() for u in m.client_urls])
        assert dead.member.client_url not in store.endpoints

        # Now the leader dies: a write in flight may time out while the others
        # elect a new one; then writes go on.
        [old_leader] = [n for n in (*alive, d) if n.name == members[await store.leader_id() or 0].name]
        await old_leader.kill9()
        await retry_unavailable(lambda: store.put("volumes/after-leader", "volume", {}))
        only_d = EtcdStore([d.member.client_url], store.prefix, rpc_timeout=RPC_TIMEOUT, tls=d.member.tls)
        assert len(await only_d.list_prefix("volumes/")) == 8
        await only_d.close()
    finally:
        await store.close()


async def test_whole_cluster_restart_in_reverse_order(nodes: Callable[[str], Node]) -> None:
    (a, b, c), store = await three_members(nodes)
    try:
        for i in range(20):
            await store.put(f"volumes/v{i}", "volume", {"i": i})
        async with trio.open_nursery() as stopping:
            for node in (a, b, c):
                stopping.start_soon(node.stop)

        # Each start returns once etcd listens: none can have quorum alone.
        for node in (c, b, a):
            await node.start(need_quorum=False)
        for node in (a, b, c):
            await node.wait_quorum()
        assert [e.value["i"] for e in await store.list_prefix("volumes/")] == sorted(range(20), key=lambda i: f"v{i}")
        assert sorted(m.name for m in await store.members()) == ["a", "b", "c"]
        await store.put("volumes/after", "volume", {})
    finally:
        await store.close()


async def test_two_member_cluster_restarts(nodes: Callable[[str], Node]) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start(need_quorum=True)
    store = EtcdStore([a.member.client_url], f"gd2/{uuid.uuid4()}", rpc_timeout=RPC_TIMEOUT, tls=a.member.tls)
    try:
        await join(store, b)
        store.set_endpoints([a.member.client_url, b.member.client_url])
        await store.put("volumes/v", "volume", {"name": "v"})
        await b.stop()
        await a.stop()
        await b.start()
        await a.start()
        await a.wait_quorum()
        entry = await store.get("volumes/v")
        assert entry is not None and entry.value == {"name": "v"}
        assert sorted(m.name for m in await store.members()) == ["a", "b"]
    finally:
        await store.close()


async def test_membership_errors_are_clear(nodes: Callable[[str], Node]) -> None:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    await a.start(need_quorum=True)
    store = EtcdStore([a.member.client_url], f"gd2/{uuid.uuid4()}", rpc_timeout=RPC_TIMEOUT, tls=a.member.tls)
    try:
        with pytest.raises(MemberNotFound, match="member not found"):
            await store.remove_member(0x1234)
        for bad in ("not a url", "http://127.0.5.1", "ftp://host:1", "http://host:99999"):
            with pytest.raises(InvalidRequest, match="peer URL"):
                await store.add_member(bad)
        with pytest.raises(MemberExists, match="already exist"):
            await store.add_member(a.member.peer_url)
        with pytest.raises(InvalidRequest, match="add it before"):
            join_initial_cluster(await store.members(), "b", b.member.peer_url)

        # An added member that never started counts against the quorum.
        await store.add_member(b.member.peer_url)
        with pytest.raises(MembershipRefused, match="quorum"):
            await store.add_member(c.member.peer_url)

        # Without quorum (b added but not running), calls fail within the rpc timeout.
        await a.stop()
        await a.start(need_quorum=False)
        with trio.fail_after(RPC_TIMEOUT * 4):
            with pytest.raises(Unavailable, match="member list"):
                await store.members()
            with pytest.raises(Unavailable, match="get volumes/v"):
                await store.get("volumes/v")
    finally:
        await store.close()


async def test_member_that_lost_quorum_does_not_answer_members(nodes: Callable[[str], Node]) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start(need_quorum=True)
    store = EtcdStore([a.member.client_url], f"gd2/{uuid.uuid4()}", rpc_timeout=RPC_TIMEOUT, tls=a.member.tls)
    try:
        await join(store, b)
        await b.stop()
        # etcd 3.4 would list members from a's own view; the store asks for quorum first.
        with trio.fail_after(RPC_TIMEOUT * 4):
            with pytest.raises(Unavailable):
                await store.members()
        assert len(await store.members(require_quorum=False)) == 2
    finally:
        await store.close()


async def test_reset_datadir_refuses_a_running_member(nodes: Callable[[str], Node]) -> None:
    a = nodes("a")
    await a.start(need_quorum=True)
    with pytest.raises(Exception, match="running"):
        reset_datadir(a.member)
    assert a.member.has_data()
    await a.stop()
    reset_datadir(a.member)
    assert not a.member.has_data() and a.member.datadir.is_dir()
