"""Executors: how the engine gets a named step run on a node.

The engine only knows :class:`Executor`.  :class:`LocalExecutor` runs steps
from this node's registry; :class:`RoutingExecutor` sends this node's steps
to it and every other node's to a remote executor — the peer client, which
implements the same protocol over gRPC and on the far side hands the call to
that node's own ``LocalExecutor``.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from gd2.errors import InternalError
from gd2.txn.steps import StepContext, StepRegistry

log = structlog.get_logger(__name__)


class Executor(Protocol):
    """Runs one step (``undo`` selects its undo function) on one node.

    A remote implementation raises the peer's failure as a ``GD2Error`` with
    the peer's code and message (``Unavailable`` when the peer cannot be
    reached), and lets trio cancellation abandon the call.  Results and
    ``args`` are msgpack-able plain data.
    """

    async def run_step(self, node_id: str, txnid: str, reqid: str, step_name: str, args: Any,
                       undo: bool) -> Any: ...


class LocalExecutor:
    """Runs steps in this process, from ``registry``, as node ``node_id``.

    Every log line of the step carries ``txnid``, ``reqid`` and ``step``
    (and ``undo`` when undoing), here as on the initiator.
    """

    def __init__(self, registry: StepRegistry, node_id: str) -> None:
        self._registry = registry
        self.node_id = node_id

    async def run_step(self, node_id: str, txnid: str, reqid: str, step_name: str, args: Any,
                       undo: bool) -> Any:
        if node_id != self.node_id:
            raise InternalError(f"step {step_name} for node {node_id} reached node {self.node_id}")
        functions = self._registry.get(step_name)
        if functions is None:
            raise InternalError(f"step {step_name} is not known on node {self.node_id}")
        context = {"txnid": txnid, "reqid": reqid, "step": step_name, **({"undo": True} if undo else {})}
        with structlog.contextvars.bound_contextvars(**context):
            fn = functions.undo if undo else functions.do
            if fn is None:
                return None
            return await fn(StepContext(txnid, reqid, step_name, self.node_id, undo), args)


class RoutingExecutor:
    """This node's steps to ``local``, every other node's to ``remote``."""

    def __init__(self, local: LocalExecutor, remote: Executor) -> None:
        self._local = local
        self._remote = remote

    async def run_step(self, node_id: str, txnid: str, reqid: str, step_name: str, args: Any,
                       undo: bool) -> Any:
        target: Executor = self._local if node_id == self._local.node_id else self._remote
        return await target.run_step(node_id, txnid, reqid, step_name, args, undo)
