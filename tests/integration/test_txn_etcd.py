"""Cluster locks, transaction records and recovery against a real etcd."""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from gd2.errors import Conflict
from gd2.store.etcd import EtcdStore
from gd2.testing import FakePeers
from gd2.txn import (
    Coordinator,
    LocalExecutor,
    RoutingExecutor,
    StepContext,
    StepRegistry,
    TxnStep,
    recover,
)
from gd2.txn import locks as cluster_locks

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(etcd_url: str) -> AsyncIterator[EtcdStore]:
    real = EtcdStore([etcd_url], f"test/{uuid.uuid4()}", rpc_timeout=5)
    try:
        yield real
    finally:
        await real.close()


async def _make(ctx: StepContext, args: Any) -> None:
    await trio.Path(args["path"]).write_text(ctx.txnid)


async def _unmake(ctx: StepContext, args: Any) -> None:
    await trio.Path(args["path"]).unlink(missing_ok=True)


def _names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def _registry() -> StepRegistry:
    registry = StepRegistry()
    registry.register("t.Make", _make, _unmake)
    return registry


async def test_lock_is_exclusive_until_released(store: EtcdStore) -> None:
    one, two = await store.grant_lease(30), await store.grant_lease(30)
    holder = cluster_locks.LockHolder("tx-1", "n1", "node-one")
    await cluster_locks.acquire(store, ["volume/gv0"], holder, one, wait=0)
    with pytest.raises(Conflict, match=r"^volume gv0 is locked by transaction tx-1 on node node-one$"):
        await cluster_locks.acquire(store, ["volume/gv0"], cluster_locks.LockHolder("tx-2", "n2", "b"), two,
                                    wait=0.3)
    await cluster_locks.release(store, ["volume/gv0"], "tx-2")  # not its lock: left alone
    assert await store.get("locks/volume/gv0") is not None
    await cluster_locks.release(store, ["volume/gv0"], "tx-1")
    await cluster_locks.acquire(store, ["volume/gv0"], cluster_locks.LockHolder("tx-2", "n2", "b"), two, wait=0)
    await store.revoke_lease(one)
    await store.revoke_lease(two)


async def test_dead_holders_lock_goes_with_its_lease(store: EtcdStore) -> None:
    dead = await store.grant_lease(2)  # nobody refreshes it
    await cluster_locks.acquire(store, ["volume/gv0"], cluster_locks.LockHolder("tx-1", "n1", "a"), dead, wait=0)
    alive = await store.grant_lease(30)
    await cluster_locks.acquire(store, ["volume/gv0"], cluster_locks.LockHolder("tx-2", "n2", "b"), alive,
                                wait=20)
    entry = await store.get("locks/volume/gv0")
    assert entry is not None and entry.value["txnid"] == "tx-2"
    await store.revoke_lease(alive)
    assert await store.get("locks/volume/gv0") is None


async def test_two_transactions_on_one_volume(store: EtcdStore, tmp_path: Path) -> None:
    registry = _registry()
    holding, release = trio.Event(), trio.Event()
    order: list[str] = []

    async def hold(ctx: StepContext, args: Any) -> None:
        order.append(f"hold {ctx.txnid}")
        holding.set()
        await release.wait()

    async def mark(ctx: StepContext, args: Any) -> None:
        order.append(f"mark {ctx.txnid}")

    registry.register("t.Hold", hold)
    registry.register("t.Mark", mark)
    first = Coordinator(store, LocalExecutor(registry, "n1"), "n1", "node-one", undo_timeout=5, lock_ttl=3)
    impatient = Coordinator(store, LocalExecutor(registry, "n2"), "n2", "node-two", undo_timeout=5,
                            lock_wait=0.5)
    patient = Coordinator(store, LocalExecutor(registry, "n3"), "n3", "node-three", undo_timeout=5,
                          lock_wait=30)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: first.run("t", [TxnStep("t.Hold")], locks=["volume/gv0"], txnid="tx-1"))
        await holding.wait()
        with pytest.raises(Conflict, match="volume gv0 is locked by transaction tx-1 on node node-one"):
            await impatient.run("t", [TxnStep("t.Mark")], locks=["volume/gv0"], txnid="tx-2")
        nursery.start_soon(lambda: patient.run("t", [TxnStep("t.Mark")], locks=["volume/gv0"], txnid="tx-3"))
        await trio.sleep(4)  # longer than the lock's lease: the holder keeps it alive
        assert order == ["hold tx-1"]
        release.set()
    assert order == ["hold tx-1", "mark tx-3"]
    assert await store.list_prefix("") == []


async def test_failed_transaction_leaves_nothing(store: EtcdStore, tmp_path: Path) -> None:
    registry = _registry()

    async def refuse(ctx: StepContext, args: Any) -> None:
        raise Conflict("brick in use")

    registry.register("t.Refuse", refuse)
    coordinator = Coordinator(store, LocalExecutor(registry, "n1"), "n1", undo_timeout=5)
    with pytest.raises(Conflict, match="brick in use"):
        await coordinator.run("t", [TxnStep("t.Make", args={"path": str(tmp_path / "a")}), TxnStep("t.Refuse")],
                              locks=["volume/gv0"])
    assert _names(tmp_path) == []
    assert await store.list_prefix("") == []


# The initiator, killed by its fault point after the second of three steps.
CHILD = """
import sys, trio
from pathlib import Path
from gd2.store.etcd import EtcdStore
from gd2.txn import Coordinator, LocalExecutor, StepRegistry, TxnStep

async def make(ctx, args):
    Path(args["path"]).write_text(ctx.txnid)

async def main(url, prefix, root, point):
    store = EtcdStore([url], prefix, rpc_timeout=5)
    registry = StepRegistry()
    registry.register("t.Make", make)
    coordinator = Coordinator(store, LocalExecutor(registry, "n1"), "n1", "node-one", undo_timeout=5,
                              lock_ttl=60, fault_point=point)
    await coordinator.run("vol-create", [TxnStep("t.Make", args={"path": f"{root}/{n}"}) for n in "abc"],
                          locks=["volume/gv0"], txnid="tx-killed")

trio.run(main, *sys.argv[1:])
"""


@pytest.mark.parametrize("survivor", ["n2", "n1"])
async def test_killed_initiator_is_rolled_back(store: EtcdStore, etcd_url: str, tmp_path: Path,
                                               survivor: str) -> None:
    """n1 is killed -9 mid-transaction; a survivor (or n1 itself, restarted) rolls it back."""
    child = await trio.run_process(
        [sys.executable, "-c", CHILD, etcd_url, store.prefix.rstrip("/"), str(tmp_path), "vol-create.t.Make:after"],
        check=False)
    assert child.returncode == -signal.SIGKILL
    assert _names(tmp_path) == ["a"]  # killed right after the first step
    [record] = await store.list_prefix("txn/")
    assert record.value["done"] == 0 and record.value["initiator"] == "n1"
    assert await store.get("locks/volume/gv0") is not None

    peers = FakePeers(*(LocalExecutor(_registry(), n) for n in ("n1", "n2")))
    executor = RoutingExecutor(peers.node(survivor), peers)

    async def is_alive(peer_id: str) -> bool:
        return peer_id != "n1" or survivor == "n1"  # a restarted n1 is alive again

    assert await recover(store, executor, survivor, is_alive) == ["tx-killed"]
    assert _names(tmp_path) == []
    assert await store.list_prefix("") == []
    # The volume's lock went with the record, long before its 60 s lease would expire.
    again = Coordinator(store, executor, survivor, undo_timeout=5, lock_wait=0)
    await again.run("t", [TxnStep("t.Make", args={"path": str(tmp_path / "d")})], locks=["volume/gv0"])
    assert _names(tmp_path) == ["d"]
