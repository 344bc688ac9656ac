"""The transaction engine (single node for now).

A transaction is an ordered list of named steps.  Each step's ``do`` runs in
turn; if one fails, the ``undo`` of every step that completed runs in reverse
order, shielded from cancellation and bounded by a deadline, so that a
cancelled request still leaves nothing half-made.  An undo failure is logged
and attached to the original error as a note, never raised instead of it.

Steps are named like glusterd2's (``vol-create.PrepareBricks``) because the
cluster issue will send them to peers by name; every log line of a
transaction carries ``txnid`` and ``step``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
import trio

log = structlog.get_logger(__name__)

Action = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """One named unit of work; ``undo`` reverses a completed ``do``."""

    name: str
    do: Action
    undo: Action | None = None


class Transaction:
    """Runs steps in order with reverse, shielded undo on failure."""

    def __init__(self, name: str, steps: Sequence[Step], *, undo_timeout: float = 30.0) -> None:
        self.name = name
        self.id = uuid.uuid4().hex[:12]
        self._steps = list(steps)
        self._undo_timeout = undo_timeout

    async def run(self) -> None:
        """Run every step; on any failure undo completed steps and re-raise."""
        done: list[Step] = []
        with structlog.contextvars.bound_contextvars(txnid=self.id, txn=self.name):
            for step in self._steps:
                with structlog.contextvars.bound_contextvars(step=step.name):
                    try:
                        await step.do()
                    except BaseException as exc:
                        # The step may have done part of its work: undo it too.
                        done.append(step)
                        log.info("step failed; undoing", error=str(exc) or type(exc).__name__)
                        await self._undo(list(reversed(done)), exc)
                        raise
                done.append(step)
            log.debug("transaction done", steps=len(done))

    async def _undo(self, steps: Sequence[Step], cause: BaseException) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(self._undo_timeout) as scope:
            for step in steps:
                if step.undo is None:
                    continue
                with structlog.contextvars.bound_contextvars(step=step.name, undo=True):
                    try:
                        await step.undo()
                    except Exception as exc:
                        log.error("undo failed", error=str(exc))
                        cause.add_note(f"undo of {step.name} failed: {exc}")
        if scope.cancelled_caught:
            log.error("undo timed out", timeout=self._undo_timeout)
            cause.add_note(f"undo did not finish within {self._undo_timeout:g}s")
