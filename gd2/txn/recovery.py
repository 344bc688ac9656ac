"""Recovery: roll back the transactions a dead initiator left in the store.

Rollback is the rule; nothing is rolled forward.  A record short of its
commit point (see :mod:`gd2.txn.journal`) has every step that may have run
undone — the done ones and the one in flight, in reverse, each on the nodes
it was sent to — and is then deleted with its locks.  A committed record
(the initiator died between the commit and the delete) is simply deleted.
Undo functions must therefore be idempotent and tolerate a ``do`` that never
ran.

Who recovers what:

- a record whose initiator is not alive, by any surviving node (the daemon
  calls this when a peer's ``alive/<id>`` key goes away, or periodically);
- a record this node initiated, by this node when it starts, before it
  serves (``own=True``): no transaction of its own can be running then.

A survivor claims a record by writing itself as ``recoverer`` with a
compare-and-swap, so two survivors never roll back the same record; a claim
by a recoverer that died too can be taken over.  If some undos fail (a node
is down), the record is written back unclaimed with the (step, node) pairs
already undone, and the next call finishes it — for a dead node's own steps,
that node when it restarts.

Locks: the locks named in the record are deleted when the rollback ends (if
the same transaction still holds them).  With ``own=True`` every lock still
naming this node as holder is deleted too, so a restarted node can run new
transactions on the same volume at once instead of waiting for its old
leases to expire.  A dead node's stray locks (no record) expire with their
lease.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace

import structlog
import trio

from gd2.errors import GD2Error
from gd2.store import Entry, Store
from gd2.txn import locks as cluster_locks
from gd2.txn.engine import UndoProgress, undo_steps
from gd2.txn.executor import Executor
from gd2.txn.journal import KIND_TXN, TXNS, TxnRecord, sent_steps, txn_key, undo_plan

log = structlog.get_logger(__name__)

IsAlive = Callable[[str], Awaitable[bool]]


async def recover(store: Store, executor: Executor, self_id: str, is_alive: IsAlive, *,
                  own: bool = True, undo_timeout: float = 30.0) -> list[str]:
    """Roll back every orphaned transaction; return the txnids finished here.

    ``own`` also takes this node's own records and locks: pass it only at
    start, before serving.  ``undo_timeout`` bounds each record's undo.
    """
    finished = []
    for entry in await store.list_prefix(TXNS):
        try:
            record = TxnRecord.from_data(entry.value)
        except GD2Error as exc:
            log.error("skipping a transaction record that cannot be read", key=entry.key, error=str(exc))
            continue
        if not await _orphaned(record, self_id, is_alive, own):
            continue
        claimed = await _claim(store, entry, record, self_id)
        if claimed is None:
            continue
        record, revision = claimed
        with structlog.contextvars.bound_contextvars(txnid=record.txnid, reqid=record.reqid, txn=record.name,
                                                     recovery=True):
            if await _roll_back(store, executor, record, revision, undo_timeout):
                finished.append(record.txnid)
    if own:
        await _release_own_locks(store, self_id)
    return finished


async def _orphaned(record: TxnRecord, self_id: str, is_alive: IsAlive, own: bool) -> bool:
    if record.initiator == self_id:
        if not own:
            return False
    elif await is_alive(record.initiator):
        return False
    if record.recoverer is None:
        return True
    if record.recoverer == self_id:
        return own  # our claim from before a restart; otherwise another call here holds it
    return not await is_alive(record.recoverer)


async def _claim(store: Store, entry: Entry, record: TxnRecord, self_id: str) -> tuple[TxnRecord, int] | None:
    """Make this node the record's recoverer; None if another got there first."""
    claimed = replace(record, recoverer=self_id, state="undoing")
    if not await store.update(entry.key, KIND_TXN, claimed.to_data(), entry.mod_revision):
        log.info("transaction claimed by another node", txnid=record.txnid)
        return None
    current = await store.get(entry.key)
    if current is None or current.value.get("recoverer") != self_id:
        return None
    return claimed, current.mod_revision


async def _roll_back(store: Store, executor: Executor, record: TxnRecord, revision: int,
                     undo_timeout: float) -> bool:
    """Undo what may have run; delete the record and locks if all went well."""
    targets = undo_plan(record.steps, sent_steps(record), record.undone)
    if record.committed:
        log.info("deleting the record of a committed transaction", initiator=record.initiator)
    else:
        log.warning("rolling back a transaction left unfinished", initiator=record.initiator,
                    done=record.done, steps=len(record.steps), undo=len(targets))
    progress = UndoProgress(undone=list(record.undone))
    with trio.move_on_after(undo_timeout) as scope:
        await undo_steps(executor, record.txnid, record.reqid, record.steps, targets, progress)
    if progress.errors or scope.cancelled_caught:
        log.error("rollback incomplete; the record is left for a later recovery",
                  errors=progress.errors, timed_out=scope.cancelled_caught)
        left = replace(record, recoverer=None, undone=tuple(progress.undone))
        await store.update(txn_key(record.txnid), KIND_TXN, left.to_data(), revision)
        return False
    await store.delete(txn_key(record.txnid), mod_revision=revision)
    await cluster_locks.release(store, record.locks, record.txnid)
    if record.lease is not None:
        with contextlib.suppress(GD2Error):
            await store.revoke_lease(record.lease)
    if not record.committed:
        log.warning("transaction rolled back")
    return True


async def _release_own_locks(store: Store, self_id: str) -> None:
    for entry in await store.list_prefix(cluster_locks.LOCKS):
        if entry.value.get("peer_id") == self_id:
            log.warning("deleting a lock left by this node before it restarted",
                        lock=entry.key.removeprefix(cluster_locks.LOCKS), txnid=entry.value.get("txnid"))
            await store.delete(entry.key, mod_revision=entry.mod_revision)
