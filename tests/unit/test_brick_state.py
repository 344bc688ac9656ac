"""This node's brick sign-ins published in the store, and read back by any node: the pure
planner, the publisher over FakeStore (sign-in, sign-out, a lost connection, a lost lease, a
previous run's leftovers), PORTBYBRICK from the store, and volume status of other nodes' bricks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
import trio
import trio.testing

from gd2.api.models import Peer, Volume, VolumeCreateRequest, VolumeState
from gd2.commands import brick_state, keys
from gd2.commands.brick_state import BrickPublisher, PublishedBrick, desired_bricks, plan
from gd2.commands.volume_start import VolumeRuntime
from gd2.commands.volumes import VolumeService
from gd2.daemons.layout import NodePaths
from gd2.daemons.planner import Policy
from gd2.daemons.supervisor import Supervisor
from gd2.errors import Unavailable
from gd2.model.layout import plan_volume
from gd2.model.node import LocalNode
from gd2.sunrpc import Dispatcher, PortmapRegistry, StaticVolfileSource
from gd2.sunrpc import Peer as RpcPeer
from gd2.testing import FakeBackend, FakeStore
from gd2.txn import Coordinator
from gd2.xdr import PortByBrickReply, PortByBrickRequest, RpcCall, decode_reply, encode_call, rpc

ONE = LocalNode("p1", "c1", "server1", ("10.0.0.1",))
TWO = LocalNode("p2", "c1", "server2", ("10.0.0.2",))
LOCAL_RPC = RpcPeer(1, "127.0.0.1:49150", True)


def _volume(name: str = "gv0", bricks: tuple[str, ...] = ("10.0.0.1:/data/b1", "10.0.0.2:/data/b1")) -> Volume:
    peers = [Peer(id=n.peer_id, name=n.name, addresses=list(n.addresses), cluster_id="c1") for n in (ONE, TWO)]
    ids = iter(f"00000000-0000-0000-0000-{i:012d}" for i in range(100))
    req = VolumeCreateRequest(name=name, bricks=list(bricks), replica=len(bricks), force=True)
    return plan_volume(req, peers, [], lambda: next(ids), "now")


async def _store_volume(store: FakeStore, volume: Volume) -> None:
    await store.put(keys.volume(volume.name), keys.KIND_VOLUME, volume.model_dump(mode="json"))


async def _published(store: FakeStore) -> dict[str, dict[str, object]]:
    return {e.key: e.value for e in await store.list_prefix(keys.BRICKS)}


@pytest.fixture
async def store() -> FakeStore:
    store = FakeStore()
    await _store_volume(store, _volume())
    return store


@pytest.fixture
async def publisher(store: FakeStore) -> AsyncIterator[tuple[BrickPublisher, PortmapRegistry]]:
    registry = PortmapRegistry()
    publisher = BrickPublisher(store, ONE, registry)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run, 9)
        yield publisher, registry
        nursery.cancel_scope.cancel()


# ---- the planner --------------------------------------------------------------------------------------


def test_only_this_nodes_signed_in_bricks_are_desired() -> None:
    volume = _volume()
    desired = desired_bricks(ONE, [volume], {"/data/b1": (49152, 0), "/data/elsewhere": (49153, 7)})
    brick = volume.bricks[0]
    assert desired == {keys.brick("gv0", "p1", brick.id): PublishedBrick(
        volume="gv0", brick_id=brick.id, peer_id="p1", host="10.0.0.1", path="/data/b1", port=49152, pid=None)}


def test_plan_writes_the_difference() -> None:
    a = PublishedBrick("gv0", "a", "p1", "h", "/a", 49152, 10)
    b = PublishedBrick("gv0", "b", "p1", "h", "/b", 49153, 11)
    moved = PublishedBrick("gv0", "b", "p1", "h", "/b", 49154, 12)
    assert plan({a.key: a}, {a.key: a}) == ([], [])
    assert plan({a.key: a, b.key: moved}, {a.key: a, b.key: b}) == ([], [moved])
    assert plan({}, {a.key: a, "bricks/old/p1/x": None}) == (sorted([a.key, "bricks/old/p1/x"]), [])
    # Unknown values (a new lease) are written again.
    assert plan({a.key: a}, {a.key: None}) == ([], [a])


# ---- publishing ---------------------------------------------------------------------------------------


async def test_sign_in_and_out_are_published(publisher: tuple[BrickPublisher, PortmapRegistry],
                                             store: FakeStore) -> None:
    service, registry = publisher
    brick = _volume().bricks[0]
    registry.sign_in("/data/b1", 49152, 4242, connection=1)
    await service.wait_published()
    assert await _published(store) == {keys.brick("gv0", "p1", brick.id): {
        "volume": "gv0", "brick_id": brick.id, "peer_id": "p1", "host": "10.0.0.1", "path": "/data/b1",
        "port": 49152, "pid": 4242, "online": True}}
    registry.sign_in("/data/b1", 49160, 4343, connection=2)  # restarted on a fresh port
    await service.wait_published()
    assert [v["port"] for v in (await _published(store)).values()] == [49160]
    registry.sign_out("/data/b1", 49160, connection=2)
    await service.wait_published()
    assert await _published(store) == {}


async def test_a_dropped_connection_unpublishes(publisher: tuple[BrickPublisher, PortmapRegistry],
                                                store: FakeStore) -> None:
    service, registry = publisher
    registry.sign_in("/data/b1", 49152, 4242, connection=1)
    registry.sign_in("/not/ours", 49153, 4243, connection=1)  # no brick of ours: never published
    await service.wait_published()
    assert len(await _published(store)) == 1
    registry.drop_connection(1)
    await service.wait_published()
    assert await _published(store) == {}


async def test_leftovers_of_a_previous_run_go_and_other_nodes_entries_stay(store: FakeStore) -> None:
    volume = _volume()
    stale = PublishedBrick("gv0", volume.bricks[0].id, "p1", "10.0.0.1", "/data/b1", 49999, 1)
    theirs = PublishedBrick("gv0", volume.bricks[1].id, "p2", "10.0.0.2", "/data/b1", 49152, 2)
    for entry in (stale, theirs):
        await store.put(entry.key, keys.KIND_BRICK, entry.record())
    registry = PortmapRegistry()
    service = BrickPublisher(store, ONE, registry)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run, 9)
        await service.wait_published()
        assert list(await _published(store)) == [theirs.key]
        registry.sign_in("/data/b1", 49152, 4242, connection=1)  # it signs in again
        await service.wait_published()
        assert sorted(await _published(store)) == sorted([stale.key, theirs.key])
        nursery.cancel_scope.cancel()
    # Stopping revokes the lease: this node's entries go at once, the other node's stay.
    assert list(await _published(store)) == [theirs.key]


async def test_a_lost_lease_is_replaced_and_everything_republished(
        publisher: tuple[BrickPublisher, PortmapRegistry], store: FakeStore,
        autojump_clock: trio.testing.MockClock) -> None:
    service, registry = publisher
    registry.sign_in("/data/b1", 49152, 4242, connection=1)
    await service.wait_published()
    (key,) = await _published(store)
    lease = store._data[key][2]
    assert lease is not None
    store.expire_lease(lease)  # etcd was away for longer than the lease
    assert await _published(store) == {}
    await trio.sleep(10)  # the next refresh finds the lease gone
    await service.wait_published()
    assert list(await _published(store)) == [key]
    assert store._data[key][2] not in (None, lease)


class FlakyStore(FakeStore):
    """Refuses writes while ``down``."""

    down = False

    async def put(self, key: str, kind: str, value: object, *, lease: int | None = None) -> None:
        if self.down:
            raise Unavailable("etcd is down")
        await super().put(key, kind, value, lease=lease)


async def test_a_store_outage_is_survived(autojump_clock: trio.testing.MockClock) -> None:
    store = FlakyStore()
    await _store_volume(store, _volume())
    registry = PortmapRegistry()
    service = BrickPublisher(store, ONE, registry)
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run, 9)
        store.down = True
        registry.sign_in("/data/b1", 49152, 4242, connection=1)
        await trio.sleep(5)
        assert await _published(store) == {}
        store.down = False
        await service.wait_published()
        assert len(await _published(store)) == 1
        nursery.cancel_scope.cancel()


# ---- reading: PORTBYBRICK -------------------------------------------------------------------------------


async def test_port_of_answers_other_nodes_bricks_only(store: FakeStore) -> None:
    volume = _volume()
    ours = PublishedBrick("gv0", volume.bricks[0].id, "p1", "10.0.0.1", "/data/b1", 49111, 1)
    theirs = PublishedBrick("gv0", volume.bricks[1].id, "p2", "10.0.0.2", "/data/b1", 49152, 2)
    for entry in (ours, theirs):
        await store.put(entry.key, keys.KIND_BRICK, entry.record())
    service = BrickPublisher(store, ONE, PortmapRegistry())
    assert await service.port_of("/data/b1") == 49152  # ours is stale by definition: never answered
    assert await service.port_of("/data/b9") is None
    assert await BrickPublisher(store, TWO, PortmapRegistry()).port_of("/data/b1") == 49111


async def test_the_same_path_on_two_other_nodes_prefers_a_live_peer() -> None:
    store = FakeStore()
    dead = PublishedBrick("gv0", "x", "p2", "10.0.0.2", "/data/b1", 49152, 1)
    live = PublishedBrick("gv1", "y", "p3", "10.0.0.3", "/data/b1", 49153, 2)
    for entry in (dead, live):
        await store.put(entry.key, keys.KIND_BRICK, entry.record())
    await store.put(keys.alive("p3"), keys.KIND_ALIVE, {"id": "p3"})
    assert await brick_state.find_port(store, "/data/b1", "p1") == 49153


async def test_a_store_failure_is_no_answer() -> None:
    class Down(FakeStore):
        async def list_prefix(self, prefix: str) -> list[object]:  # type: ignore[override]
            raise Unavailable("etcd is down")

    assert await BrickPublisher(Down(), ONE, PortmapRegistry()).port_of("/data/b1") is None


class Lookups:
    def __init__(self, answer: int | None) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def port_of(self, brick_path: str) -> int | None:
        self.asked.append(brick_path)
        return self.answer


async def _portbybrick(dispatcher: Dispatcher, path: str) -> PortByBrickReply:
    call = RpcCall(5, rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_PORTBYBRICK, PortByBrickRequest(path),
                   rpc.AUTH_GLUSTERFS_V2, bytes(24))
    data = await dispatcher.reply(rpc.decode_call(encode_call(call)[4:]), LOCAL_RPC)
    result = decode_reply(data[4:], PortByBrickReply).result
    assert isinstance(result, PortByBrickReply)
    return result


async def test_portbybrick_local_first_then_the_pool() -> None:
    registry, lookups = PortmapRegistry(), Lookups(49200)
    dispatcher = Dispatcher(StaticVolfileSource(bricks={"/data/mine"}), registry, lookups)
    registry.sign_in("/data/mine", 49152, 1, connection=1)
    assert await _portbybrick(dispatcher, "/data/mine") == PortByBrickReply(0, 0, 0, 49152)
    assert lookups.asked == []  # no store round trip for a brick signed in here
    assert await _portbybrick(dispatcher, "/data/theirs") == PortByBrickReply(0, 0, 0, 49200)
    registry.drop_connection(1)
    # Our brick is down: not answered with another node's port for the same path.
    assert await _portbybrick(dispatcher, "/data/mine") == PortByBrickReply(-1, 0, 0, 0)
    assert lookups.asked == ["/data/theirs"]
    lookups.answer = None
    assert await _portbybrick(dispatcher, "/data/gone") == PortByBrickReply(-1, 0, 0, 0)


# ---- reading: volume status -------------------------------------------------------------------------------


class Volumes:
    """What status reads of VolumeService: the record and the store."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def get(self, name: str) -> Volume:
        entry = await self.store.get(keys.volume(name))
        assert entry is not None
        return Volume.model_validate(entry.value)


def _runtime(store: FakeStore, node: LocalNode, registry: PortmapRegistry) -> VolumeRuntime:
    paths = NodePaths(rundir=Path("/run/gd2"), logdir=Path("/var/log/gd2"), address=node.addresses[0],
                      sunrpc_port=24007, peer_id=node.peer_id)
    backend = FakeBackend()
    # status runs no transaction: no coordinator needed.
    return VolumeRuntime(cast(VolumeService, Volumes(store)), node, paths, backend, registry,
                         Supervisor(backend, Policy()), cast(Coordinator, None))


async def test_status_shows_other_nodes_bricks_from_the_store(store: FakeStore) -> None:
    volume = _volume().model_copy(update={"state": VolumeState.STARTED})
    await _store_volume(store, volume)
    runtime = _runtime(store, ONE, PortmapRegistry())

    async def remote() -> dict[str, object]:
        status = await runtime.status("gv0")
        brick = next(b for b in status.bricks if b.peer_id == "p2")
        return brick.model_dump(include={"host", "path", "online", "port", "pid", "error"})

    assert await remote() == {"host": "10.0.0.2", "path": "/data/b1", "online": False, "port": None, "pid": None,
                              "error": "peer 10.0.0.2 is down"}
    lease = await store.grant_lease(9)
    await store.put(keys.alive("p2"), keys.KIND_ALIVE, {"id": "p2"}, lease=lease)
    assert (await remote())["error"] == "not signed in on its peer"
    # Node two publishes its brick (its own publisher, on its own lease).
    registry_two = PortmapRegistry()
    two = BrickPublisher(store, TWO, registry_two)
    async with trio.open_nursery() as nursery:
        await nursery.start(two.run, 9)
        registry_two.sign_in("/data/b1", 49160, 777, connection=1)
        await two.wait_published()
        assert await remote() == {"host": "10.0.0.2", "path": "/data/b1", "online": True, "port": 49160,
                                  "pid": 777, "error": None}
        store.expire_lease(lease)  # node two died: its liveness goes (its brick lease follows)
        assert (await remote())["online"] is False
        nursery.cancel_scope.cancel()
