"""An in-memory DaemonBackend: daemons that start, die and fail on cue.

It keeps the backend contract (start returns a pid and adopts a running
daemon; stop is idempotent; state reflects deaths), so the supervisor's
behaviour over minutes of backoff can be tested in milliseconds with trio's
autojump clock.
"""

from __future__ import annotations

import itertools

import trio

from gd2.daemons.base import DaemonSpec, DaemonState
from gd2.errors import GD2Error


class FakeDaemonFailed(GD2Error):
    code = "daemon_failed"


class FakeBackend:
    def __init__(self) -> None:
        self.running: dict[str, int] = {}
        self.fail_starts: dict[str, int] = {}  # name -> how many more starts fail
        self.started: list[str] = []  # every successful start, in order
        self.stopped: list[str] = []
        self._pids = itertools.count(1000)

    async def start(self, spec: DaemonSpec) -> int:
        await trio.sleep(0.01)
        if spec.name in self.running:
            return self.running[spec.name]
        if self.fail_starts.get(spec.name, 0):
            self.fail_starts[spec.name] -= 1
            raise FakeDaemonFailed(f"{spec.name} failed to start (exit 1)")
        pid = next(self._pids)
        self.running[spec.name] = pid
        self.started.append(spec.name)
        return pid

    async def stop(self, spec: DaemonSpec, grace: float) -> None:
        await trio.lowlevel.checkpoint()
        if self.running.pop(spec.name, None) is not None:
            self.stopped.append(spec.name)

    async def state(self, spec: DaemonSpec) -> DaemonState:
        await trio.lowlevel.checkpoint()
        pid = self.running.get(spec.name)
        return DaemonState(running=pid is not None, pid=pid)

    def kill(self, name: str) -> None:
        """The daemon dies (SIGKILL, OOM...)."""
        self.running.pop(name, None)
