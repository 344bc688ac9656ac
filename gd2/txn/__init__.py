"""Transactions: named steps with do and undo, undone in reverse on failure."""

from gd2.txn.engine import Step, Transaction

__all__ = ["Step", "Transaction"]
