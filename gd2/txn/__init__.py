"""Transactions: named steps fanned out to nodes, undone in reverse on failure.

The composition root builds a :class:`StepRegistry` (every node registers
the same step names), a :class:`LocalExecutor` on it, a
:class:`RoutingExecutor` with the peer client for other nodes, one
:class:`Coordinator`, and calls :func:`recover` at start and when a peer
dies.  :class:`Transaction` is the single-node special case of closures.
"""

from gd2.txn.engine import Coordinator, Transaction
from gd2.txn.executor import Executor, LocalExecutor, RoutingExecutor
from gd2.txn.faults import FaultPoint
from gd2.txn.journal import TakenOver, TxnRecord
from gd2.txn.locks import LeaseLost
from gd2.txn.recovery import recover
from gd2.txn.steps import Step, StepContext, StepFunction, StepFunctions, StepRegistry, TxnStep

__all__ = [
    "Coordinator", "Executor", "FaultPoint", "LeaseLost", "LocalExecutor", "RoutingExecutor", "Step",
    "StepContext", "StepFunction", "StepFunctions", "StepRegistry", "TakenOver", "Transaction", "TxnRecord",
    "TxnStep", "recover",
]
