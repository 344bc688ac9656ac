"""Steps: what a transaction asks each node to do, and the functions that do it.

A cluster transaction sends steps to peers by name, so a step in a plan is
plain data, :class:`TxnStep` ``(name, nodes, args)``, and every node resolves
the name in its own :class:`StepRegistry`.  The composition root fills the
registry from an explicit list; nothing registers itself at import time.

Undo functions must be idempotent and must tolerate a ``do`` that never ran
or ran only in part: after a crash, recovery undoes the step that was in
flight without knowing how far it got, and it may undo a step twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepContext:
    """Who is running a step, passed to every step function."""

    txnid: str
    reqid: str
    step: str
    node_id: str
    undo: bool = False


StepFunction = Callable[[StepContext, Any], Awaitable[Any]]
"""``(ctx, args) -> result``; args and result are msgpack-able plain data."""


@dataclass(frozen=True)
class StepFunctions:
    """The registered pair for one step name; ``undo`` None means nothing to undo."""

    name: str
    do: StepFunction
    undo: StepFunction | None = None


class StepRegistry:
    """The step functions this node can run, by name (``vol-create.PrepareBricks``)."""

    def __init__(self, steps: Iterable[StepFunctions] = ()) -> None:
        self._steps: dict[str, StepFunctions] = {}
        for step in steps:
            self.add(step)

    def add(self, step: StepFunctions) -> None:
        if step.name in self._steps:
            raise ValueError(f"step {step.name} is registered twice")
        self._steps[step.name] = step

    def register(self, name: str, do: StepFunction, undo: StepFunction | None = None) -> None:
        self.add(StepFunctions(name, do, undo))

    def get(self, name: str) -> StepFunctions | None:
        return self._steps.get(name)

    def names(self) -> list[str]:
        return sorted(self._steps)


@dataclass(frozen=True)
class TxnStep:
    """One step of a cluster transaction: run ``name`` with ``args`` on ``nodes``.

    ``nodes`` are peer ids; empty means the initiator only.  ``args`` must be
    msgpack-able: the plan is kept in the store and sent to peers.
    """

    name: str
    nodes: tuple[str, ...] = ()
    args: Any = None


Action = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """A step of a single-node :class:`gd2.txn.Transaction`: closures, not data."""

    name: str
    do: Action
    undo: Action | None = None
