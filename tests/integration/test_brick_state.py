"""Brick state in a real etcd: a real daemon publishes its bricks on volume start and removes them
on stop; PORTBYBRICK answers a brick another node published; a node that stops refreshing its
lease (it died) loses its entries, and publishes them again once it can."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from gd2.api.models import Volume, VolumeState
from gd2.commands import keys
from gd2.commands.brick_state import BrickPublisher, PublishedBrick
from gd2.model.node import LocalNode
from gd2.store.etcd import EtcdStore
from gd2.sunrpc import PortmapRegistry
from gd2.testing import DaemonProcess
from gd2.xdr import PortByBrickReply, PortByBrickRequest, RpcCall, decode_reply, encode_call
from gd2.xdr import rpc as rpcconst

pytestmark = pytest.mark.integration

NODE = LocalNode("p1", "c1", "server1", ("10.0.0.1",))


@pytest.fixture
async def store(etcd_url: str) -> AsyncIterator[EtcdStore]:
    real = EtcdStore([etcd_url], f"test/{uuid.uuid4()}", rpc_timeout=5)
    try:
        yield real
    finally:
        await real.close()


async def _bricks(store: EtcdStore) -> dict[str, Any]:
    return {e.key: e.value for e in await store.list_prefix(keys.BRICKS)}


async def _eventually(predicate: Callable[[], Any], what: str) -> None:
    """Poll predicate until it holds; only a hang (not a slow answer) fails the test."""
    try:
        with trio.fail_after(30):
            while True:
                if await predicate():
                    return
                await trio.sleep(0.1)
    except trio.TooSlowError:
        raise AssertionError(f"never happened: {what}") from None


# ---- the publisher against etcd ---------------------------------------------------------------------------


class FrozenStore(EtcdStore):
    """An etcd store whose lease refreshes and revokes hang while ``frozen``: a node that died."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.thawed = trio.Event()
        self.thawed.set()

    async def refresh_lease(self, lease: int) -> int:
        await self.thawed.wait()
        return await super().refresh_lease(lease)

    async def revoke_lease(self, lease: int) -> None:
        await self.thawed.wait()
        await super().revoke_lease(lease)


async def test_entries_of_a_node_that_stops_refreshing_expire(etcd_url: str) -> None:
    store = FrozenStore([etcd_url], f"test/{uuid.uuid4()}", rpc_timeout=5)
    volume = {"id": str(uuid.uuid4()), "name": "gv0", "type": "Distribute", "state": "Started",
              "bricks": [{"id": "b-1", "peer_id": "p1", "host": "10.0.0.1", "path": "/data/b1"}],
              "created_at": "now", "auth": {"username": "u", "password": "p"}}
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, Volume.model_validate(volume).model_dump(mode="json"))
    registry = PortmapRegistry()
    publisher = BrickPublisher(store, NODE, registry)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run, 2)  # a short lease
            registry.sign_in("/data/b1", 49152, 4242, connection=1)
            await publisher.wait_published()
            assert [v["port"] for v in (await _bricks(store)).values()] == [49152]
            store.thawed = trio.Event()  # the node stops refreshing: as good as dead to etcd

            async def gone() -> bool:
                return await _bricks(store) == {}

            await _eventually(gone, "the entry goes with its lease")
            store.thawed.set()  # it comes back: a new lease, everything published again

            async def back() -> bool:
                return [v["port"] for v in (await _bricks(store)).values()] == [49152]

            await _eventually(back, "the entry is published again")
            nursery.cancel_scope.cancel()
        assert await _bricks(store) == {}, "a clean stop revokes the lease"
    finally:
        await store.close()


# ---- a real daemon ----------------------------------------------------------------------------------------


def _portbybrick(address: str, path: str) -> PortByBrickReply:
    call = encode_call(RpcCall(xid=11, prog=rpcconst.PORTMAP_PROGRAM, vers=rpcconst.PORTMAP_VERSION,
                               proc=rpcconst.PORTMAP_PORTBYBRICK, args=PortByBrickRequest(path)))
    with socket.create_connection((address, 24007), timeout=10) as sock:
        sock.sendall(call)
        data = b""
        while len(data) < 4 or len(data) < 4 + (int.from_bytes(data[:4], "big") & 0x7FFFFFFF):
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            data += chunk
    result = decode_reply(data[4:], PortByBrickReply).result
    assert isinstance(result, PortByBrickReply)
    return result


def _status(gd2: DaemonProcess, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(gd2.ctl("--json", "volume", "status", name, check=True).stdout)
    return result


async def test_a_daemon_publishes_its_bricks_and_answers_for_other_nodes(
        daemon_factory: Callable[..., DaemonProcess], etcd_url: str, brick_fs: Path) -> None:
    gd2 = daemon_factory("--etcd-endpoints", etcd_url, "--etcd-allow-http", "true")
    node = json.loads((gd2.statedir / "node.json").read_text())
    store = EtcdStore([etcd_url], f"gd2/{node['cluster_id']}", rpc_timeout=5)
    try:
        bricks = [brick_fs / "b0", brick_fs / "b1"]
        gd2.ctl("volume", "create", "pv", "replica", "2", *[f"{gd2.address}:{b}" for b in bricks], "force",
                check=True)
        gd2.ctl("volume", "start", "pv", check=True)
        # Not signed in until each brick's graph is up; the start waits for that, the entries follow.
        deadline = time.monotonic() + 30
        while True:
            status = _status(gd2, "pv")
            published = {v["path"]: v for v in (await _bricks(store)).values()}
            if all(b["online"] for b in status["bricks"]) and len(published) == 2:
                break
            assert time.monotonic() < deadline, (status, published)
            await trio.sleep(0.1)
        for brick in status["bricks"]:
            entry = published[brick["path"]]
            assert (entry["port"], entry["pid"], entry["peer_id"], entry["host"], entry["volume"]) == (
                brick["port"], brick["pid"], node["peer_id"], gd2.address, "pv")
            assert keys.brick("pv", node["peer_id"], brick["id"]) in await _bricks(store)

        # A brick of another node, only in the store: PORTBYBRICK on this node answers its port.
        other = PublishedBrick("elsewhere", "b-9", str(uuid.uuid4()), "10.9.9.9", "/srv/remote/b9", 50999, 99)
        lease = await store.grant_lease(30)
        await store.put(other.key, keys.KIND_BRICK, other.record(), lease=lease)
        assert _portbybrick(gd2.address, "/srv/remote/b9") == PortByBrickReply(0, 0, 0, 50999)
        assert _portbybrick(gd2.address, str(bricks[0])) == PortByBrickReply(0, 0, 0, status["bricks"][0]["port"])
        assert _portbybrick(gd2.address, "/srv/remote/nowhere") == PortByBrickReply(-1, 0, 0, 0)
        await store.revoke_lease(lease)
        assert _portbybrick(gd2.address, "/srv/remote/b9") == PortByBrickReply(-1, 0, 0, 0)

        gd2.ctl("volume", "stop", "pv", check=True)
        deadline = time.monotonic() + 30
        while await _bricks(store):
            assert time.monotonic() < deadline, await _bricks(store)
            await trio.sleep(0.1)
        record = await store.get(keys.volume("pv"))
        assert record is not None and Volume.model_validate(record.value).state is VolumeState.STOPPED
    finally:
        await store.close()


def test_any_node_shows_and_serves_every_brick_of_a_pool(daemon_factory: Callable[..., DaemonProcess],
                                                         brick_fs: Path) -> None:
    nodes = [daemon_factory(name=f"node{i}") for i in (1, 2, 3)]
    one, _two, three = nodes
    for other in nodes[1:]:
        one.ctl("peer", "add", other.address, check=True, timeout=120)
    paths = [brick_fs / f"s{i}" for i in range(3)]
    one.ctl("volume", "create", "sv", "replica", "3", *[f"{n.address}:{p}" for n, p in zip(nodes, paths, strict=True)],
            check=True)
    one.ctl("volume", "start", "sv", check=True)
    try:
        # Every node answers for every brick: its own from its registry, the others' from the store.
        views = []
        for node in nodes:
            deadline = time.monotonic() + 30
            while True:
                status = _status(node, "sv")
                if all(b["online"] for b in status["bricks"]):
                    break
                assert time.monotonic() < deadline, status
                time.sleep(0.1)
            views.append({b["path"]: (b["host"], b["port"], b["pid"]) for b in status["bricks"]})
        assert views[0] == views[1] == views[2]
        assert {host for host, _, _ in views[0].values()} == {n.address for n in nodes}
        far = str(paths[2])  # node three's brick, asked of node one
        assert _portbybrick(one.address, far) == PortByBrickReply(0, 0, 0, views[0][far][1])

        three.stop()  # a clean stop revokes its leases; its brick keeps running
        brick = next(b for b in _status(one, "sv")["bricks"] if b["path"] == far)
        assert (brick["online"], brick["port"], brick["error"]) == (False, None, f"peer {three.address} is down")
        assert _portbybrick(one.address, far) == PortByBrickReply(-1, 0, 0, 0)
        three.start()  # adopts its brick, which signs in again and is published again
        deadline = time.monotonic() + 30
        while not (brick := next(b for b in _status(one, "sv")["bricks"] if b["path"] == far))["online"]:
            assert time.monotonic() < deadline, brick
            time.sleep(0.1)
        assert (brick["port"], brick["pid"]) == views[0][far][1:]
    finally:
        one.ctl("volume", "stop", "sv", check=True)
