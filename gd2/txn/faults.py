"""Fault points: kill this process at a named point of a transaction.

For crash-recovery tests only.  The composition root reads ``GD2_FAULT_POINT``
once and hands it to the engine; a point is ``<txn>.<step>:before`` (the
previous steps are recorded done, this one not sent) or ``<txn>.<step>:after``
(this step finished on every node, not yet recorded), for example
``vol-create.PrepareBricks:after``.  Step names that already start with the
transaction's name (``vol-create.PrepareBricks``) are not prefixed twice.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Literal

from gd2.errors import ConfigError

ENV = "GD2_FAULT_POINT"

When = Literal["before", "after"]
Crash = Callable[[], None]


def point_name(txn: str, step: str, when: When) -> str:
    qualified = step if step.startswith(txn + ".") else f"{txn}.{step}"
    return f"{qualified}:{when}"


def check_point(point: str | None) -> str | None:
    """Validate a configured fault point (None or empty: no fault point)."""
    if not point:
        return None
    _, sep, when = point.rpartition(":")
    if not sep or when not in ("before", "after") or "." not in point:
        raise ConfigError(f"{ENV}={point!r} is not <txn>.<step>:before or <txn>.<step>:after")
    return point


def kill_self() -> None:
    """SIGKILL this process: no cleanup, no undo, exactly like a crash."""
    os.kill(os.getpid(), signal.SIGKILL)


class FaultPoint:
    """Calls ``crash`` when a transaction reaches the configured point."""

    def __init__(self, point: str | None, crash: Crash = kill_self) -> None:
        self.point = check_point(point)
        self._crash = crash

    def reached(self, txn: str, step: str, when: When) -> None:
        if self.point is not None and point_name(txn, step, when) == self.point:
            self._crash()
