"""The transaction engine: steps fanned out to nodes, undone in reverse on failure.

A transaction is an ordered list of named steps (:class:`TxnStep`), each run
on its nodes concurrently through an :class:`Executor`.  The first failure on
any node cancels the step on the others; those count as "maybe done".  Then
every step that was sent — the failed one included, on every node it was sent
to — is undone in reverse order, shielded from cancellation and bounded by a
deadline, so that a failed or cancelled request leaves nothing half-made.  An
undo failure is logged and attached to the original error as a note, never
raised instead of it.

With a store, the :class:`Coordinator` also takes the transaction's cluster
locks and keeps its progress in ``txn/<txnid>`` (see :mod:`gd2.txn.journal`)
so that :func:`gd2.txn.recovery.recover` can roll it back if this node dies.
The order is: lease, record, locks, steps; then record deleted, locks
released.  A lock therefore never exists without a record naming it, except
in the instant between the two final deletes, which the lease covers.

The single-node :class:`Transaction` of closures is the same engine with an
in-process registry and neither store nor locks.

Every log line of a transaction carries ``txnid``, ``reqid``, ``txn`` and,
inside a step, ``step``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio

from gd2.errors import GD2Error
from gd2.store import Store
from gd2.txn import locks as cluster_locks
from gd2.txn.executor import Executor, LocalExecutor
from gd2.txn.faults import Crash, FaultPoint, kill_self
from gd2.txn.journal import Journal, PlannedStep, TakenOver, TxnRecord, undo_plan
from gd2.txn.steps import Step, StepContext, StepFunctions, StepRegistry, TxnStep

log = structlog.get_logger(__name__)

StepResults = dict[str, Any]
"""One step's results by node id."""


def new_txnid() -> str:
    return str(uuid.uuid4())


def current_reqid() -> str:
    """The request id bound by the REST layer, if any."""
    return str(structlog.contextvars.get_contextvars().get("reqid") or "-")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@dataclass
class UndoProgress:
    """What an undo pass got through, kept even if its deadline cut it short."""

    undone: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def undo_steps(executor: Executor, txnid: str, reqid: str, steps: Sequence[PlannedStep],
                     targets: Sequence[tuple[int, tuple[str, ...]]], progress: UndoProgress) -> None:
    """Undo ``targets`` (from :func:`undo_plan`) in the given order, each step
    on its nodes concurrently.  Failures are logged and collected in
    ``progress.errors``; they do not stop the other undos.  The caller sets
    the deadline and the shield."""
    for index, nodes in targets:
        step = steps[index]
        with structlog.contextvars.bound_contextvars(step=step.name, undo=True):

            async def undo_on(node: str, step: PlannedStep = step, index: int = index) -> None:
                try:
                    await executor.run_step(node, txnid, reqid, step.name, step.args, True)
                except Exception as exc:
                    log.error("undo failed", node=node, error=_describe(exc))
                    progress.errors.append(f"undo of {step.name} failed: {_describe(exc)} (node {node})")
                else:
                    progress.undone.append((index, node))

            async with trio.open_nursery() as nursery:
                for node in nodes:
                    nursery.start_soon(undo_on, node)


def _aggregate(step: PlannedStep, failures: list[tuple[str, Exception]]) -> Exception:
    """The first failure, naming every failing node when the step had several."""
    first = failures[0][1]
    for node, exc in failures[1:]:
        first.add_note(f"{step.name} also failed on node {node}: {_describe(exc)}")
    if isinstance(first, GD2Error) and len(step.nodes) > 1:
        for node, exc in failures:
            first.fields[f"node:{node}"] = _describe(exc)
    return first


class Coordinator:
    """Runs the transactions this node initiates.

    Built once by the composition root: ``store`` None runs without records
    or locks (single-node use); ``lock_ttl`` is the lease under the locks (a
    dead initiator's locks go after it); ``lock_wait`` is how long to wait
    for a busy lock; ``fault_point`` comes from ``GD2_FAULT_POINT``.
    """

    def __init__(self, store: Store | None, executor: Executor, node_id: str, node_name: str = "", *,
                 undo_timeout: float, lock_ttl: int = 10, lock_wait: float = 10.0,
                 fault_point: str | None = None, crash: Crash = kill_self) -> None:
        self.store = store
        self.executor = executor
        self.node_id = node_id
        self.node_name = node_name or node_id
        self.undo_timeout = undo_timeout
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        self.faults = FaultPoint(fault_point, crash)

    async def run(self, name: str, steps: Sequence[TxnStep], *, locks: Sequence[str] = (),
                  reqid: str | None = None, txnid: str | None = None) -> list[StepResults]:
        """Run ``steps`` holding ``locks`` (``volume/gv0``...); return each
        step's results by node.  On failure everything sent is undone and the
        first error is raised, with undo problems as notes."""
        if locks and self.store is None:
            raise ValueError("cluster locks need a store")
        run = _Run(self, name, txnid or new_txnid(), reqid or current_reqid(),
                   tuple(PlannedStep(s.name, tuple(s.nodes) or (self.node_id,), s.args) for s in steps),
                   tuple(locks))
        with structlog.contextvars.bound_contextvars(txnid=run.txnid, reqid=run.reqid, txn=name):
            return await run.execute()


class _Run:
    """One execution of one transaction."""

    def __init__(self, coordinator: Coordinator, name: str, txnid: str, reqid: str,
                 plan: tuple[PlannedStep, ...], locks: tuple[str, ...]) -> None:
        self.c = coordinator
        self.name = name
        self.txnid = txnid
        self.reqid = reqid
        self.plan = plan
        self.locks = locks
        self.journal: Journal | None = None

    async def execute(self) -> list[StepResults]:
        store = self.c.store
        if store is None:
            return await self._steps()
        lease = await store.grant_lease(self.c.lock_ttl) if self.locks else None
        self.journal = Journal(store, TxnRecord(self.txnid, self.name, self.c.node_id, self.reqid, self.plan,
                                                self.locks, lease))
        try:
            await self.journal.open()
        except BaseException:
            await self._release(store, (), lease)
            raise
        try:
            if lease is None:
                results = await self._steps()
            else:
                holder = cluster_locks.LockHolder(self.txnid, self.c.node_id, self.c.node_name)
                results = await self._steps_holding(store, lease, holder)
        except BaseException:
            await self._forget_if_unused()
            raise
        else:
            await self._close_record()
        finally:
            await self._release(store, self.locks, lease)
        log.debug("transaction done", steps=len(self.plan))
        return results

    async def _release(self, store: Store, names: Sequence[str], lease: int | None) -> None:
        if not names and lease is None:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(self.c.undo_timeout) as scope:
            await cluster_locks.release_quietly(store, names, self.txnid, lease)
        if scope.cancelled_caught:
            log.warning("releasing locks timed out; they go when their lease expires")

    async def _steps_holding(self, store: Store, lease: int, holder: cluster_locks.LockHolder
                             ) -> list[StepResults]:
        """Take the locks, then run the steps while a task keeps the lease alive;
        losing the lease cancels the steps (and so undoes them)."""
        lost: list[cluster_locks.LeaseLost] = []
        outcome: Exception | None = None
        results: list[StepResults] = []
        async with trio.open_nursery() as nursery:

            async def keeper() -> None:
                try:
                    await cluster_locks.keep_lease(store, lease, self.c.lock_ttl)
                except cluster_locks.LeaseLost as exc:
                    log.error("lock lease lost; cancelling the transaction")
                    lost.append(exc)
                    nursery.cancel_scope.cancel()

            nursery.start_soon(keeper)
            try:
                await cluster_locks.acquire(store, self.locks, holder, lease, wait=self.c.lock_wait)
                results = await self._steps()
            except Exception as exc:
                outcome = exc
            finally:
                nursery.cancel_scope.cancel()
        if lost:
            raise lost[0]
        if outcome is not None:
            raise outcome
        return results

    async def _steps(self) -> list[StepResults]:
        results: list[StepResults] = []
        for index, step in enumerate(self.plan):
            with structlog.contextvars.bound_contextvars(step=step.name):
                try:
                    self.c.faults.reached(self.name, step.name, "before")
                    results.append(await self._fan_out(step))
                    self.c.faults.reached(self.name, step.name, "after")
                    if self.journal is not None:
                        await self.journal.step_done(index + 1)
                except BaseException as exc:
                    log.info("step failed; undoing", error=_describe(exc))
                    await self._undo(index + 1, exc)
                    raise
        return results

    async def _fan_out(self, step: PlannedStep) -> StepResults:
        results: StepResults = {}
        failures: list[tuple[str, Exception]] = []
        async with trio.open_nursery() as nursery:

            async def run_on(node: str) -> None:
                try:
                    results[node] = await self.c.executor.run_step(
                        node, self.txnid, self.reqid, step.name, step.args, False)
                except Exception as exc:
                    if not failures:
                        log.info("step failed on a node; cancelling the others", node=node,
                                 error=_describe(exc))
                    failures.append((node, exc))
                    nursery.cancel_scope.cancel()

            for node in step.nodes:
                nursery.start_soon(run_on, node)
        if failures:
            raise _aggregate(step, failures)
        return results

    async def _undo(self, sent: int, cause: BaseException) -> None:
        progress = UndoProgress()
        complete = False
        with trio.CancelScope(shield=True):
            with trio.move_on_after(self.c.undo_timeout) as scope:
                if self.journal is not None and not await self._mark_undoing(cause):
                    return
                targets = undo_plan(self.plan, sent)
                await undo_steps(self.c.executor, self.txnid, self.reqid, self.plan, targets, progress)
                complete = not progress.errors
            for note in progress.errors:
                cause.add_note(note)
            if scope.cancelled_caught:
                log.error("undo timed out", timeout=self.c.undo_timeout)
                cause.add_note(f"undo did not finish within {self.c.undo_timeout:g}s")
            if self.journal is not None:
                with trio.move_on_after(self.c.undo_timeout):
                    await self._settle_record(complete, progress)

    async def _mark_undoing(self, cause: BaseException) -> bool:
        """Record that undo started; False if a recoverer owns the record."""
        assert self.journal is not None
        if isinstance(cause, TakenOver):
            self.journal = None
            return False
        try:
            await self.journal.undoing()
        except TakenOver as exc:
            cause.add_note(str(exc))
            self.journal = None
            return False
        except GD2Error as exc:
            log.warning("could not record the undo; undoing anyway", error=str(exc))
        return True

    async def _settle_record(self, complete: bool, progress: UndoProgress) -> None:
        """Delete the record after a clean undo; otherwise leave it, with what
        was undone, for recovery to finish."""
        assert self.journal is not None
        try:
            if complete:
                await self.journal.close()
            else:
                log.warning("undo incomplete; the record is left for recovery")
                await self.journal.undo_incomplete(progress.undone)
        except GD2Error as exc:
            log.warning("could not update the transaction record", error=str(exc))
        self.journal = None

    async def _forget_if_unused(self) -> None:
        """A failure before any step (a busy lock, a lost lease before the first
        step) leaves a record with nothing to undo; it is deleted at once."""
        if self.journal is None:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(self.c.undo_timeout):
            try:
                await self.journal.close()
            except GD2Error as exc:
                log.warning("could not delete the transaction record", error=str(exc))
        self.journal = None

    async def _close_record(self) -> None:
        if self.journal is None:
            return
        try:
            # Shielded: the transaction has committed, a late cancel must not hide that.
            with trio.CancelScope(shield=True), trio.fail_after(self.c.undo_timeout):
                await self.journal.close()
        except (GD2Error, trio.TooSlowError) as exc:
            # Committed already: recovery deletes a committed record without undoing it.
            log.warning("could not delete the record of a committed transaction", error=_describe(exc))
        self.journal = None


def _closure_step(step: Step) -> StepFunctions:
    """A closure step as registered step functions that ignore context and args."""
    do, undo = step.do, step.undo

    async def run_do(ctx: StepContext, args: Any) -> None:
        await do()

    async def run_undo(ctx: StepContext, args: Any) -> None:
        if undo is not None:
            await undo()

    return StepFunctions(step.name, run_do, run_undo if undo is not None else None)


LOCAL_NODE = "local"


class Transaction:
    """A single-node transaction of closures: the cluster engine with one node,
    no store and no locks.  Undo runs in reverse, shielded and bounded."""

    def __init__(self, name: str, steps: Sequence[Step], *, undo_timeout: float = 30.0) -> None:
        self.name = name
        self.id = new_txnid()
        self._steps = list(steps)
        self._undo_timeout = undo_timeout

    async def run(self) -> None:
        """Run every step; on any failure undo the steps that ran and re-raise."""
        registry = StepRegistry(_closure_step(step) for step in self._steps)
        coordinator = Coordinator(None, LocalExecutor(registry, LOCAL_NODE), LOCAL_NODE,
                                  undo_timeout=self._undo_timeout)
        await coordinator.run(self.name, [TxnStep(s.name) for s in self._steps], txnid=self.id)
