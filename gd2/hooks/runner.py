"""Running one hook script: its own process group, a deadline, its output in our log.

A script runs with stdin from /dev/null, in ``/``, in a new session (so its
process group is its own), with the daemon's environment minus systemd's
notification variables plus ``GD2_SOCKET`` (so a script that calls
``gd2ctl`` reaches this daemon).  Each line it writes goes to glusterd2's log
with the script's path; the last lines of its stderr are kept for the
caller's error message.

When its deadline passes, or the caller is cancelled (a request deadline,
the daemon stopping), the whole process group gets SIGTERM, then SIGKILL
after a short grace: nothing a script started outlives its deadline.  A
script that exits in time may leave a child behind on purpose (to start a
service, say); that child is not touched, and the pipes it holds are read for
a moment only.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import structlog
import trio

log = structlog.get_logger(__name__)

SOCKET_ENV = "GD2_SOCKET"
_NOT_INHERITED = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                  "LISTEN_FDNAMES")
_TAIL_LINES = 5
_MAX_LINE = 4096
# How long the output of a script that has exited is still read: a child it left running
# may hold the pipes open forever.
_DRAIN = 0.5


def hook_environment(base: Mapping[str, str], socket_path: Path) -> dict[str, str]:
    """The environment of every hook script: ``base`` without systemd's per-service
    variables (a script must not speak for glusterd2 to systemd), with ``GD2_SOCKET``."""
    env = {k: v for k, v in base.items() if k not in _NOT_INHERITED}
    env[SOCKET_ENV] = str(socket_path)
    return env


@dataclass(frozen=True)
class HookOutcome:
    """How one script ended: ``returncode`` (negative: a signal), or killed at its
    deadline, or not started at all (``error``)."""

    script: Path
    returncode: int | None
    timed_out: bool = False
    error: str = ""
    stderr_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.error

    def describe(self) -> str:
        """One line for an error message or a log line."""
        if self.error:
            what = f"could not run: {self.error}"
        elif self.timed_out:
            what = "killed at its deadline"
        elif self.returncode is not None and self.returncode < 0:
            what = f"killed by signal {-self.returncode}"
        else:
            what = f"exited with status {self.returncode}"
        tail = " | ".join(self.stderr_tail)
        return f"{what}: {tail}" if tail else what


class HookRunner:
    """Runs hook scripts, each within ``timeout`` seconds (config ``hook-timeout``)."""

    def __init__(self, *, timeout: float, env: Mapping[str, str], kill_grace: float = 2.0) -> None:
        self.timeout = timeout
        self._env = dict(env)
        self._kill_grace = kill_grace

    async def run(self, script: Path, args: Sequence[str]) -> HookOutcome:
        """Run ``script args...`` to its end or its deadline; never raises for the script's sake."""
        try:
            proc = await trio.lowlevel.open_process(
                [str(script), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=self._env, cwd="/", start_new_session=True)
        except OSError as exc:
            return HookOutcome(script, None, error=exc.strerror or str(exc))
        tail: deque[str] = deque(maxlen=_TAIL_LINES)
        timed_out = False
        try:
            async with trio.open_nursery() as nursery:
                read = trio.Event()

                async def pumps() -> None:
                    async with trio.open_nursery() as inner:
                        assert proc.stdout is not None and proc.stderr is not None
                        inner.start_soon(_pump, proc.stdout, script, "stdout", None)
                        inner.start_soon(_pump, proc.stderr, script, "stderr", tail)
                    read.set()

                nursery.start_soon(pumps)
                with trio.move_on_after(self.timeout) as deadline:
                    await proc.wait()
                if deadline.cancelled_caught:
                    timed_out = True
                    log.error("hook script killed at its deadline", hook=str(script), timeout=self.timeout)
                    await self._kill_group(proc)
                with trio.move_on_after(_DRAIN):
                    await read.wait()
                nursery.cancel_scope.cancel()
        finally:
            if proc.returncode is None:  # cancelled from outside: the script goes with us
                await self._kill_group(proc)
            with trio.CancelScope(shield=True):
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        await stream.aclose()
        return HookOutcome(script, proc.returncode, timed_out=timed_out, stderr_tail=tuple(tail))

    async def _kill_group(self, proc: trio.Process) -> None:
        """SIGTERM to the script's process group, SIGKILL after the grace (to whatever is
        left in the group, too); shielded, so a cancel cannot leave it running."""
        with trio.CancelScope(shield=True):
            _signal_group(proc.pid, signal.SIGTERM)
            with trio.move_on_after(self._kill_grace):
                await proc.wait()
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _pump(stream: trio.abc.ReceiveStream, script: Path, name: str, tail: deque[str] | None) -> None:
    """Log each line of ``stream``; keep the last ones in ``tail``."""
    pending = b""
    async for chunk in stream:
        pending += chunk
        while True:
            cut = pending.find(b"\n", 0, _MAX_LINE + 1)
            if cut >= 0:
                line, pending = pending[:cut], pending[cut + 1:]
            elif len(pending) > _MAX_LINE:  # no newline in sight: log it in pieces
                line, pending = pending[:_MAX_LINE], pending[_MAX_LINE:]
            else:
                break
            _emit(line, script, name, tail)
    if pending:
        _emit(pending, script, name, tail)


def _emit(raw: bytes, script: Path, name: str, tail: deque[str] | None) -> None:
    text = raw.decode(errors="replace").rstrip()
    if not text:
        return
    log.info("hook script output", hook=str(script), stream=name, line=text)
    if tail is not None:
        tail.append(text)
