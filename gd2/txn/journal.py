"""The transaction record in the store: what a survivor needs to roll back.

Before its first step the initiator creates ``txn/<txnid>`` holding the whole
plan (steps with their nodes and args), its own peer id, the request id and
``done``, the number of steps that finished on every node.  ``done`` is
advanced with a compare-and-swap after each step; the step at index ``done``
is the one in flight.  The record is not on a lease: it outlives the
initiator on purpose.  It is deleted when the transaction commits or has been
completely undone.

The commit point is the write that makes ``done`` equal to the number of
steps: a record short of that is rolled back by recovery, never finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gd2.errors import Conflict, InternalError
from gd2.store import Entry, Store

TXNS = "txn/"
KIND_TXN = "txn"

State = Literal["running", "undoing"]


class TakenOver(Conflict):
    """A recoverer claimed this transaction's record (it took the initiator for
    dead): the initiator must stop and leave the rollback to it."""


def txn_key(txnid: str) -> str:
    return TXNS + txnid


@dataclass(frozen=True)
class PlannedStep:
    """A step with its nodes resolved (never empty) — as stored and as run."""

    name: str
    nodes: tuple[str, ...]
    args: Any = None

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "nodes": list(self.nodes), "args": self.args}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PlannedStep:
        return cls(str(data["name"]), tuple(str(n) for n in data["nodes"]), data.get("args"))


@dataclass(frozen=True)
class TxnRecord:
    """The stored progress of one transaction (``txn/<txnid>``)."""

    txnid: str
    name: str
    initiator: str
    reqid: str
    steps: tuple[PlannedStep, ...]
    locks: tuple[str, ...] = ()
    lease: int | None = None
    state: State = "running"
    done: int = 0
    recoverer: str | None = None
    undone: tuple[tuple[int, str], ...] = field(default=())

    @property
    def committed(self) -> bool:
        return self.done >= len(self.steps)

    def to_data(self) -> dict[str, Any]:
        return {
            "txnid": self.txnid, "name": self.name, "initiator": self.initiator, "reqid": self.reqid,
            "steps": [s.to_data() for s in self.steps], "locks": list(self.locks), "lease": self.lease,
            "state": self.state, "done": self.done, "recoverer": self.recoverer,
            "undone": [[i, n] for i, n in self.undone],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TxnRecord:
        try:
            return cls(
                txnid=str(data["txnid"]), name=str(data["name"]), initiator=str(data["initiator"]),
                reqid=str(data["reqid"]), steps=tuple(PlannedStep.from_data(s) for s in data["steps"]),
                locks=tuple(str(n) for n in data.get("locks", ())), lease=data.get("lease"),
                state="undoing" if data.get("state") == "undoing" else "running",
                done=int(data["done"]), recoverer=data.get("recoverer"),
                undone=tuple((int(i), str(n)) for i, n in data.get("undone", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InternalError(f"transaction record {data!r} is malformed: {exc}") from None


def undo_plan(steps: Sequence[PlannedStep], sent: int,
              undone: Sequence[tuple[int, str]] = ()) -> list[tuple[int, tuple[str, ...]]]:
    """What to undo, in order: the first ``sent`` steps in reverse, each on its
    nodes, leaving out the (step, node) pairs already ``undone``."""
    skip = set(undone)
    plan = []
    for index in reversed(range(min(sent, len(steps)))):
        nodes = tuple(n for n in steps[index].nodes if (index, n) not in skip)
        if nodes:
            plan.append((index, nodes))
    return plan


def sent_steps(record: TxnRecord) -> int:
    """How many steps may have run: the done ones and the one in flight."""
    return 0 if record.committed else record.done + 1


class Journal:
    """The initiator's handle on its record: every write is a compare-and-swap.

    A failed swap means a recoverer claimed the record (it took this node for
    dead), so the transaction must stop and leave the rollback to it.
    """

    def __init__(self, store: Store, record: TxnRecord) -> None:
        self._store = store
        self.record = record
        self._revision = 0

    async def open(self) -> None:
        if not await self._store.create(txn_key(self.record.txnid), KIND_TXN, self.record.to_data()):
            raise InternalError(f"transaction {self.record.txnid} already has a record")
        await self._refresh()

    async def step_done(self, done: int) -> None:
        await self._write(replace(self.record, done=done))

    async def undoing(self) -> None:
        await self._write(replace(self.record, state="undoing"))

    async def undo_incomplete(self, undone: Sequence[tuple[int, str]]) -> None:
        """Leave the record for recovery, noting the (step, node) pairs undone."""
        await self._write(replace(self.record, state="undoing", undone=tuple(undone)))

    async def close(self) -> None:
        if not await self._store.delete(txn_key(self.record.txnid), mod_revision=self._revision):
            raise self._taken_over(await self._store.get(txn_key(self.record.txnid)))

    async def _write(self, record: TxnRecord) -> None:
        if not await self._store.update(txn_key(record.txnid), KIND_TXN, record.to_data(), self._revision):
            raise self._taken_over(await self._store.get(txn_key(record.txnid)))
        self.record = record
        await self._refresh()

    async def _refresh(self) -> None:
        entry = await self._store.get(txn_key(self.record.txnid))
        if entry is None or entry.value.get("recoverer") is not None:
            raise self._taken_over(entry)
        self._revision = entry.mod_revision

    def _taken_over(self, entry: Entry | None) -> TakenOver:
        who = entry.value.get("recoverer") if entry is not None else None
        txnid = self.record.txnid
        if who:
            return TakenOver(f"transaction {txnid} was taken over by recovery on node {who}", {"txnid": txnid})
        return TakenOver(f"the record of transaction {txnid} changed or vanished: recovery took it over",
                         {"txnid": txnid})
