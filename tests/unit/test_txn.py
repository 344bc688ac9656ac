"""The transaction engine: reverse undo, shielded from cancellation, errors kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from gd2.errors import ConfigError, Conflict, InternalError, InvalidRequest, NotFound, Unavailable
from gd2.testing import FakePeers, FakeStore
from gd2.txn import (
    Coordinator,
    LeaseLost,
    LocalExecutor,
    RoutingExecutor,
    Step,
    StepContext,
    StepFunctions,
    StepRegistry,
    TakenOver,
    Transaction,
    TxnRecord,
    TxnStep,
    recover,
)
from gd2.txn.faults import check_point, point_name
from gd2.txn.journal import PlannedStep, sent_steps, undo_plan


def _recorder(log: list[str], name: str, fail: bool = False, slow: bool = False) -> Step:
    async def do() -> None:
        log.append(f"do {name}")
        if slow:
            await trio.sleep_forever()
        if fail:
            raise RuntimeError(f"{name} broke")

    async def undo() -> None:
        await trio.sleep(0.01)  # would be cancelled if undo were not shielded
        log.append(f"undo {name}")

    return Step(name, do, undo)


async def test_all_steps_run_in_order() -> None:
    log: list[str] = []
    await Transaction("t", [_recorder(log, "a"), _recorder(log, "b")]).run()
    assert log == ["do a", "do b"]


async def test_failure_undoes_in_reverse_including_the_failed_step() -> None:
    log: list[str] = []
    steps = [_recorder(log, "a"), _recorder(log, "b"), _recorder(log, "c", fail=True), _recorder(log, "d")]
    with pytest.raises(RuntimeError, match="c broke"):
        await Transaction("t", steps).run()
    assert log == ["do a", "do b", "do c", "undo c", "undo b", "undo a"]


async def test_cancellation_still_undoes_everything() -> None:
    log: list[str] = []
    steps = [_recorder(log, "a"), _recorder(log, "b", slow=True)]
    with trio.move_on_after(0.05):
        await Transaction("t", steps).run()
    assert log == ["do a", "do b", "undo b", "undo a"]


async def test_undo_failure_is_a_note_not_a_replacement() -> None:
    async def boom() -> None:
        raise OSError("disk gone")

    async def fail() -> None:
        raise ValueError("original")

    with pytest.raises(ValueError, match="original") as err:
        await Transaction("t", [Step("a", trio.lowlevel.checkpoint, boom), Step("b", fail)]).run()
    assert any("undo of a failed: disk gone" in note for note in err.value.__notes__)


async def test_undo_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    async def hang() -> None:
        await trio.sleep_forever()

    async def fail() -> None:
        raise ValueError("original")

    with pytest.raises(ValueError) as err:
        await Transaction("t", [Step("a", trio.lowlevel.checkpoint, hang), Step("b", fail)],
                          undo_timeout=5).run()
    assert any("did not finish within 5s" in note for note in err.value.__notes__)


# --- cluster transactions: steps as data, fanned out to nodes --------------------------------------

STEPS = ("t.One", "t.Two", "t.Three")


class Nodes:
    """Step functions shared by every fake node; they record (what, step, node)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []
        self.fail: dict[tuple[str, str], Exception] = {}
        self.hang: set[tuple[str, str]] = set()
        self.undo_fail: set[tuple[str, str]] = set()
        self.undo_hang: set[tuple[str, str]] = set()
        self.cancelled: list[tuple[str, str]] = []
        self.started = 0
        self.all_started = trio.Event()
        self.expect_concurrent = 0
        self.fail_delay = 0.0
        self.during: dict[tuple[str, str], Callable[[], Awaitable[None]]] = {}

    def registry(self) -> StepRegistry:
        return StepRegistry(StepFunctions(name, self._do, self._undo) for name in STEPS)

    async def _do(self, ctx: StepContext, args: Any) -> Any:
        key = (ctx.step, ctx.node_id)
        self.log.append(("do", *key))
        structlog.get_logger("test").info("doing", node=ctx.node_id)
        try:
            if key in self.during:
                await self.during[key]()
            if self.expect_concurrent:
                self.started += 1
                if self.started == self.expect_concurrent:
                    self.all_started.set()
                await self.all_started.wait()
            if key in self.hang:
                await trio.sleep_forever()
            if key in self.fail:
                await trio.sleep(self.fail_delay)
                raise self.fail[key]
        except trio.Cancelled:
            self.cancelled.append(key)
            raise
        return {"node": ctx.node_id, "args": args}

    async def _undo(self, ctx: StepContext, args: Any) -> None:
        key = (ctx.step, ctx.node_id)
        await trio.sleep(0.01)  # would be cancelled if undo were not shielded
        if key in self.undo_hang:
            await trio.sleep_forever()
        if key in self.undo_fail:
            raise Unavailable(f"{ctx.step} cannot be undone on {ctx.node_id}")
        self.log.append(("undo", *key))

    def undone(self) -> list[tuple[str, str]]:
        return [(step, node) for what, step, node in self.log if what == "undo"]


def _cluster(nodes: Nodes, store: FakeStore | None = None, **options: Any) -> tuple[Coordinator, FakePeers]:
    peers = FakePeers(*(LocalExecutor(nodes.registry(), n) for n in ("n1", "n2", "n3")))
    executor = RoutingExecutor(peers.node("n1"), peers)
    options.setdefault("undo_timeout", 5)
    return Coordinator(store, executor, "n1", "node-one", **options), peers


async def test_steps_run_in_order_on_their_nodes_and_return_results() -> None:
    nodes = Nodes()
    coordinator, _ = _cluster(nodes)
    results = await coordinator.run("t", [TxnStep("t.One", ("n2", "n3"), {"brick": "/b"}), TxnStep("t.Two")])
    assert results == [{"n2": {"node": "n2", "args": {"brick": "/b"}}, "n3": {"node": "n3", "args": {"brick": "/b"}}},
                       {"n1": {"node": "n1", "args": None}}]
    assert sorted(nodes.log[:2]) == [("do", "t.One", "n2"), ("do", "t.One", "n3")]
    assert nodes.log[2] == ("do", "t.Two", "n1")  # no nodes: the initiator


async def test_a_step_runs_on_its_nodes_concurrently(autojump_clock: trio.testing.MockClock) -> None:
    nodes = Nodes()
    nodes.expect_concurrent = 3  # each node's do waits until all three have started
    coordinator, _ = _cluster(nodes)
    with trio.fail_after(60):
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2", "n3"))])
    assert nodes.all_started.is_set()


async def test_first_failure_cancels_siblings_and_all_are_undone_in_reverse(
        autojump_clock: trio.testing.MockClock) -> None:
    nodes = Nodes()
    nodes.fail[("t.Two", "n2")] = Conflict("brick /b is in use", {"brick": "/b"})
    nodes.hang.add(("t.Two", "n3"))
    nodes.fail_delay = 1  # n3 has surely started by then
    coordinator, _ = _cluster(nodes)
    with pytest.raises(Conflict, match="brick /b is in use") as err:
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2", "n3")), TxnStep("t.Two", ("n2", "n3")),
                                    TxnStep("t.Three", ("n1",))])
    assert nodes.cancelled == [("t.Two", "n3")]
    undone = nodes.undone()
    # The failed and the cancelled step first (on both nodes), then the step before, on all three.
    assert sorted(undone[:2]) == [("t.Two", "n2"), ("t.Two", "n3")]
    assert sorted(undone[2:]) == [("t.One", "n1"), ("t.One", "n2"), ("t.One", "n3")]
    assert ("do", "t.Three", "n1") not in nodes.log
    assert err.value.code == "conflict" and err.value.fields["brick"] == "/b"
    assert err.value.fields["node:n2"] == "brick /b is in use"


async def test_remote_failure_keeps_its_code_and_message() -> None:
    nodes = Nodes()
    nodes.fail[("t.One", "n2")] = NotFound("no such brick", {"path": "/x"})
    coordinator, _ = _cluster(nodes)
    with pytest.raises(NotFound, match=r"^no such brick$") as err:
        await coordinator.run("t", [TxnStep("t.One", ("n2",))])
    assert err.value.fields == {"path": "/x"}  # one node: nothing added


async def test_unreachable_node_fails_the_step() -> None:
    nodes = Nodes()
    coordinator, peers = _cluster(nodes)
    peers.down.add("n3")
    with pytest.raises(Unavailable, match="peer n3 is not reachable"):
        await coordinator.run("t", [TxnStep("t.One", ("n2", "n3"))])
    assert nodes.undone() == [("t.One", "n2")]


async def test_cancelled_transaction_undoes_shielded_on_every_node(autojump_clock: trio.testing.MockClock
                                                                  ) -> None:
    nodes = Nodes()
    nodes.hang.add(("t.Two", "n2"))
    coordinator, _ = _cluster(nodes)
    with trio.move_on_after(10):
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2")), TxnStep("t.Two", ("n2", "n3"))])
    assert nodes.cancelled == [("t.Two", "n2")]
    assert sorted(nodes.undone()[:2]) == [("t.Two", "n2"), ("t.Two", "n3")]
    assert sorted(nodes.undone()[2:]) == [("t.One", "n1"), ("t.One", "n2")]


async def test_cluster_undo_failure_is_a_note_and_the_rest_is_still_undone() -> None:
    nodes = Nodes()
    nodes.fail[("t.Two", "n1")] = InvalidRequest("bad")
    nodes.undo_fail.add(("t.One", "n2"))
    coordinator, _ = _cluster(nodes)
    with pytest.raises(InvalidRequest, match="bad") as err:
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2")), TxnStep("t.Two", ("n1",))])
    assert "undo of t.One failed: t.One cannot be undone on n2 (node n2)" in err.value.__notes__
    assert sorted(nodes.undone()) == [("t.One", "n1"), ("t.Two", "n1")]


async def test_cluster_undo_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    nodes = Nodes()
    nodes.fail[("t.Two", "n1")] = InvalidRequest("bad")
    nodes.undo_hang.add(("t.One", "n3"))
    coordinator, _ = _cluster(nodes, undo_timeout=7)
    with pytest.raises(InvalidRequest) as err:
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n3")), TxnStep("t.Two", ("n1",))])
    assert "undo did not finish within 7s" in err.value.__notes__
    assert ("t.One", "n1") in nodes.undone()


async def test_every_log_line_carries_txnid_reqid_and_step() -> None:
    nodes = Nodes()
    nodes.fail[("t.Two", "n2")] = InvalidRequest("bad")
    coordinator, _ = _cluster(nodes)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs, \
            pytest.raises(InvalidRequest):
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2")), TxnStep("t.Two", ("n2",))],
                              reqid="req-7", txnid="tx-1")
    doing = [e for e in logs if e["event"] == "doing"]
    assert {(e["node"], e["step"]) for e in doing} == {("n1", "t.One"), ("n2", "t.One"), ("n2", "t.Two")}
    assert all(e["txnid"] == "tx-1" and e["reqid"] == "req-7" for e in logs)
    failed = [e for e in logs if e["event"] == "step failed; undoing"]
    assert failed and failed[0]["step"] == "t.Two"


async def test_reqid_defaults_to_the_requests() -> None:
    nodes = Nodes()
    coordinator, _ = _cluster(nodes)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs, \
            structlog.contextvars.bound_contextvars(reqid="from-rest"):
        await coordinator.run("t", [TxnStep("t.One")])
    assert {e["reqid"] for e in logs} == {"from-rest"}


async def test_local_executor_checks_node_and_step() -> None:
    local = LocalExecutor(StepRegistry(), "n1")
    with pytest.raises(InternalError, match=r"t\.Nope is not known on node n1"):
        await local.run_step("n1", "x", "r", "t.Nope", None, False)
    with pytest.raises(InternalError, match="for node n2 reached node n1"):
        await local.run_step("n2", "x", "r", "t.Nope", None, False)


def test_registry_refuses_a_name_twice() -> None:
    registry = StepRegistry()
    registry.register("t.One", Nodes()._do)
    with pytest.raises(ValueError, match=r"t\.One is registered twice"):
        registry.register("t.One", Nodes()._do)
    assert registry.names() == ["t.One"]


# --- fault points --------------------------------------------------------------------------------------

def test_fault_point_names() -> None:
    assert point_name("vol-create", "vol-create.PrepareBricks", "after") == "vol-create.PrepareBricks:after"
    assert point_name("vol-create", "PrepareBricks", "before") == "vol-create.PrepareBricks:before"
    assert check_point("") is None and check_point(None) is None
    for bad in ("vol-create.PrepareBricks", "vol-create.PrepareBricks:during", "PrepareBricks:after"):
        with pytest.raises(ConfigError, match="GD2_FAULT_POINT"):
            check_point(bad)


@pytest.mark.parametrize(("point", "at"), [
    ("tx.t.One:before", 0), ("tx.t.One:after", 1), ("tx.t.Two:before", 1), ("tx.t.Two:after", 2),
    ("tx.t.Three:before", None), ("other.t.One:before", None),
])
async def test_fault_point_crashes_exactly_there(point: str, at: int | None) -> None:
    nodes = Nodes()
    crashes: list[int] = []
    coordinator, _ = _cluster(nodes, fault_point=point,
                              crash=lambda: crashes.append(len([e for e in nodes.log if e[0] == "do"])))
    await coordinator.run("tx", [TxnStep("t.One"), TxnStep("t.Two")])
    assert crashes == ([] if at is None else [at])


# --- records in the store, locks, recovery -------------------------------------------------------------

async def _values(store: FakeStore, prefix: str) -> list[Any]:
    return [e.value for e in await store.list_prefix(prefix)]


def _dead(*dead: str) -> Callable[[str], Awaitable[bool]]:
    async def is_alive(peer_id: str) -> bool:
        return peer_id not in dead

    return is_alive


async def test_record_is_written_advanced_and_deleted() -> None:
    nodes, store = Nodes(), FakeStore()
    coordinator, _ = _cluster(nodes, store)
    seen: list[list[Any]] = []

    async def snapshot() -> None:
        seen.append(await _values(store, "txn/"))

    nodes.during[("t.One", "n2")] = nodes.during[("t.Two", "n1")] = snapshot
    await coordinator.run("t", [TxnStep("t.One", ("n2",), {"x": [1]}), TxnStep("t.Two")],
                          locks=["volume/gv0"], reqid="r1", txnid="tx-1")
    first, second = seen[0][0], seen[1][0]
    assert first["txnid"] == "tx-1" and first["name"] == "t" and first["initiator"] == "n1"
    assert first["reqid"] == "r1" and first["locks"] == ["volume/gv0"] and first["state"] == "running"
    assert first["steps"] == [{"name": "t.One", "nodes": ["n2"], "args": {"x": [1]}},
                              {"name": "t.Two", "nodes": ["n1"], "args": None}]
    assert (first["done"], second["done"]) == (0, 1)
    assert await store.list_prefix("") == []  # record and lock gone


async def test_undo_is_recorded_then_the_record_deleted() -> None:
    nodes, store = Nodes(), FakeStore()
    nodes.fail[("t.Two", "n1")] = InvalidRequest("bad")
    states: list[str] = []
    undo = nodes._undo

    async def undo_and_look(ctx: StepContext, args: Any) -> None:
        states.extend(v["state"] for v in await _values(store, "txn/"))
        await undo(ctx, args)

    nodes._undo = undo_and_look  # type: ignore[method-assign]
    coordinator, _ = _cluster(nodes, store)
    with pytest.raises(InvalidRequest):
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2")), TxnStep("t.Two")], locks=["volume/gv0"])
    assert states == ["undoing"] * 3
    assert await store.list_prefix("") == []


async def test_incomplete_undo_leaves_the_record_and_recovery_finishes_it() -> None:
    nodes, store = Nodes(), FakeStore()
    nodes.fail[("t.Two", "n1")] = InvalidRequest("bad")
    nodes.undo_fail.add(("t.One", "n2"))
    coordinator, _ = _cluster(nodes, store)
    with pytest.raises(InvalidRequest):
        await coordinator.run("t", [TxnStep("t.One", ("n1", "n2")), TxnStep("t.Two")], txnid="tx-1")
    [left] = await _values(store, "txn/")
    assert left["state"] == "undoing" and sorted(map(tuple, left["undone"])) == [(0, "n1"), (1, "n1")]
    assert await recover(store, coordinator.executor, "n1", _dead(), own=False) == []  # n1 is alive: not ours
    nodes.undo_fail.clear()
    nodes.log.clear()
    assert await recover(store, coordinator.executor, "n1", _dead()) == ["tx-1"]  # n1 restarted
    assert nodes.undone() == [("t.One", "n2")]
    assert await store.list_prefix("") == []


def _plan() -> tuple[PlannedStep, ...]:
    return (PlannedStep("t.One", ("n1", "n2", "n3")), PlannedStep("t.Two", ("n2", "n3"), {"a": 1}),
            PlannedStep("t.Three", ("n1",)))


async def _leave_record(store: FakeStore, *, initiator: str = "n1", done: int = 1, txnid: str = "tx-dead"
                        ) -> None:
    """What an initiator that died in step ``done`` leaves behind: its record and its lock."""
    lease = await store.grant_lease(10)
    record = TxnRecord(txnid, "t", initiator, "r-dead", _plan(), ("volume/gv0",), lease, done=done)
    await store.put(f"txn/{txnid}", "txn", record.to_data())
    await store.put("locks/volume/gv0", "lock", {"txnid": txnid, "peer_id": initiator, "node": "x"}, lease=lease)


async def test_recovery_rolls_back_a_dead_initiators_transaction() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store)
    survivor = RoutingExecutor(peers.node("n2"), peers)
    assert await recover(store, survivor, "n2", _dead("n1")) == ["tx-dead"]
    undone = nodes.undone()
    # t.Two was in flight: undone on its nodes, then t.One on all three; t.Three never.
    assert sorted(undone[:2]) == [("t.Two", "n2"), ("t.Two", "n3")]
    assert sorted(undone[2:]) == [("t.One", "n1"), ("t.One", "n2"), ("t.One", "n3")]
    assert await store.list_prefix("") == []


async def test_a_live_initiators_transaction_is_left_alone() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store)
    assert await recover(store, RoutingExecutor(peers.node("n2"), peers), "n2", _dead()) == []
    assert nodes.log == [] and len(await store.list_prefix("")) == 2


async def test_two_survivors_roll_back_once() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store)
    finished: list[str] = []

    async def survivor(node: str) -> None:
        finished.extend(await recover(store, RoutingExecutor(peers.node(node), peers), node, _dead("n1")))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(survivor, "n2")
        nursery.start_soon(survivor, "n3")
    assert finished == ["tx-dead"]
    assert sorted(nodes.undone()) == sorted(set(nodes.undone())) and len(nodes.undone()) == 5


async def test_a_dead_recoverers_claim_is_taken_over() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store)
    entry = await store.get("txn/tx-dead")
    assert entry is not None
    await store.put("txn/tx-dead", "txn", {**entry.value, "recoverer": "n2", "state": "undoing"})
    executor = RoutingExecutor(peers.node("n3"), peers)
    assert await recover(store, executor, "n3", _dead("n1")) == []  # n2 is alive and busy with it
    assert await recover(store, executor, "n3", _dead("n1", "n2")) == ["tx-dead"]


async def test_restarted_node_rolls_back_its_own_and_frees_its_locks() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store, initiator="n1", done=0)
    lease = await store.grant_lease(10)
    await store.put("locks/volume/gv1", "lock", {"txnid": "gone", "peer_id": "n1", "node": "x"}, lease=lease)
    await store.put("locks/volume/gv2", "lock", {"txnid": "other", "peer_id": "n2", "node": "y"}, lease=lease)
    executor = RoutingExecutor(peers.node("n1"), peers)
    assert await recover(store, executor, "n1", _dead(), own=False) == []
    assert await recover(store, executor, "n1", _dead()) == ["tx-dead"]
    assert sorted(nodes.undone()) == [("t.One", "n1"), ("t.One", "n2"), ("t.One", "n3")]
    assert [e.key for e in await store.list_prefix("")] == ["locks/volume/gv2"]


async def test_committed_record_is_deleted_without_undo() -> None:
    nodes, store = Nodes(), FakeStore()
    _, peers = _cluster(nodes)
    await _leave_record(store, done=3)
    assert await recover(store, RoutingExecutor(peers.node("n2"), peers), "n2", _dead("n1")) == ["tx-dead"]
    assert nodes.log == [] and await store.list_prefix("") == []


async def test_initiator_stops_when_recovery_took_its_record_over() -> None:
    nodes, store = Nodes(), FakeStore()
    coordinator, peers = _cluster(nodes, store)

    async def taken_for_dead() -> None:
        await recover(store, RoutingExecutor(peers.node("n2"), peers), "n2", _dead("n1"))

    nodes.during[("t.One", "n1")] = taken_for_dead
    with pytest.raises(TakenOver, match="vanished: recovery took it over"):
        await coordinator.run("t", [TxnStep("t.One"), TxnStep("t.Two")])
    assert nodes.undone() == [("t.One", "n1")]  # by the recoverer only
    assert await store.list_prefix("") == []


def test_undo_plan_covers_sent_steps_in_reverse_minus_undone() -> None:
    plan = _plan()
    assert undo_plan(plan, 0) == []
    assert undo_plan(plan, 2) == [(1, ("n2", "n3")), (0, ("n1", "n2", "n3"))]
    assert undo_plan(plan, 2, [(1, "n2"), (0, "n1"), (0, "n2"), (0, "n3")]) == [(1, ("n3",))]
    record = TxnRecord("x", "t", "n1", "r", plan, done=1)
    assert sent_steps(record) == 2 and sent_steps(replace(record, done=3)) == 0
    assert TxnRecord.from_data(record.to_data()) == record


async def test_busy_lock_waits_then_fails_naming_its_holder(autojump_clock: trio.testing.MockClock) -> None:
    nodes, store = Nodes(), FakeStore()
    coordinator, _ = _cluster(nodes, store, lock_wait=3)
    release = trio.Event()
    nodes.during[("t.One", "n1")] = release.wait
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(coordinator.run, "t", [TxnStep("t.One")], locks=["volume/gv0"], txnid="tx-1"))
        await trio.sleep(1)
        with pytest.raises(Conflict, match=r"^volume gv0 is locked by transaction tx-1 on node node-one$") as err:
            await coordinator.run("t", [TxnStep("t.Two")], locks=["volume/gv0", "volume/gv1"])
        assert err.value.fields == {"lock": "volume/gv0", "txnid": "tx-1", "node": "node-one"}
        assert [e.key for e in await store.list_prefix("")] == ["locks/volume/gv0", "txn/tx-1"]
        waiting = partial(coordinator.run, "t", [TxnStep("t.Three")], locks=["volume/gv0"])
        coordinator.lock_wait = 60
        nursery.start_soon(waiting)
        await trio.sleep(5)
        assert ("do", "t.Three", "n1") not in nodes.log
        release.set()
    assert [e[1] for e in nodes.log] == ["t.One", "t.Three"]
    assert await store.list_prefix("") == []


async def test_lost_lease_cancels_and_undoes(autojump_clock: trio.testing.MockClock) -> None:
    nodes, store = Nodes(), FakeStore()
    coordinator, _ = _cluster(nodes, store, lock_ttl=6)

    async def lose_lease() -> None:
        [record] = await _values(store, "txn/")
        store.expire_lease(record["lease"])

    nodes.during[("t.Two", "n2")] = lose_lease
    nodes.hang.add(("t.Two", "n2"))
    with pytest.raises(LeaseLost, match="expired"):
        await coordinator.run("t", [TxnStep("t.One"), TxnStep("t.Two", ("n2",))], locks=["volume/gv0"])
    assert nodes.cancelled == [("t.Two", "n2")]
    assert nodes.undone() == [("t.Two", "n2"), ("t.One", "n1")]
    assert await store.list_prefix("") == []
