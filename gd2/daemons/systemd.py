"""The systemd backend: every daemon is a transient service unit in ``gd2.slice``.

systemd is the daemon's parent, so the process runs in the foreground
(``DaemonSpec.foreground_args``), its state is the unit's state, and it
survives glusterd2 restarting: a restarted glusterd2 finds the unit by name
and adopts it.  Readiness beyond "exec succeeded" (a brick's SIGNIN) is the
supervisor's business, as with the process backend.

PIDs are systemd's ``MainPID`` values, i.e. PIDs in systemd's PID namespace
(the host's, except in tests that boot systemd in a namespace of its own).
"""

from __future__ import annotations

import contextlib
import signal

import structlog
import trio

from gd2.daemons.base import DaemonSpec, DaemonState, log_tail
from gd2.errors import GD2Error
from gd2.systemd import SystemdBus, SystemdError, unit_name, unit_properties

log = structlog.get_logger(__name__)

_RUNNING = frozenset({"active", "reloading"})
# systemd's own exit statuses for a process it could not set up (systemd.exec(5)).
_SETUP_FAILURES = {200: "chdir failed", 203: "exec failed: no such program or not executable",
                   217: "user unknown", 226: "namespace setup failed"}


class DaemonFailed(GD2Error):
    code = "daemon_failed"


class SystemdBackend:
    """Runs daemons as transient units through ``bus`` (which the caller keeps connected)."""

    name = "systemd"

    def __init__(self, bus: SystemdBus, *, start_timeout: float, stop_timeout: float) -> None:
        self._bus = bus
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout

    async def start(self, spec: DaemonSpec) -> int:
        unit = unit_name(spec.name)
        current = await self._bus.unit_state(unit)
        if current.active in _RUNNING and current.main_pid:
            return current.main_pid  # adopt: it outlived a glusterd2 restart
        if current.active in ("activating", "deactivating", "active"):  # half-started or half-stopped
            await self.stop(spec, self._stop_timeout)
        if current.active == "failed":
            await self._bus.reset_failed(unit)
        for directory in (spec.pidfile.parent, spec.logfile.parent, *spec.runtime_dirs):
            directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            spec.pidfile.unlink()  # whatever an earlier run left; the daemon writes it again
        try:
            job = await self._bus.start_transient(unit, unit_properties(
                spec.name, (*spec.argv, *spec.foreground_args), spec.env, self._stop_timeout))
        except SystemdError as exc:
            raise DaemonFailed(f"{spec.name}: systemd refused {unit}: {exc.message}") from None
        result = "timeout"
        with trio.move_on_after(self._start_timeout):
            result = await self._bus.wait_job(job)
        if result == "timeout":
            await self._kill(unit)
            raise DaemonFailed(f"{spec.name} ({unit}) did not start within {self._start_timeout:g}s; "
                               f"log: {log_tail(spec.logfile)}")
        state = await self._bus.unit_state(unit)
        if result == "done" and state.active in _RUNNING and state.main_pid:
            log.info("daemon started", daemon=spec.name, unit=unit, pid=state.main_pid)
            return state.main_pid
        with contextlib.suppress(GD2Error):
            await self._bus.reset_failed(unit)
        if state.exit_status in _SETUP_FAILURES:
            raise DaemonFailed(f"{spec.name}: cannot run {spec.argv[0]} ({unit}: "
                               f"{_SETUP_FAILURES[state.exit_status]})")
        raise DaemonFailed(f"{spec.name} failed to start ({unit}: job {result}, unit {state.active}"
                           f"{', ' + state.result if state.result else ''}, status {state.exit_status}): "
                           f"{log_tail(spec.logfile)}")

    async def stop(self, spec: DaemonSpec, grace: float) -> None:
        unit = unit_name(spec.name)
        with trio.CancelScope(shield=True):
            state = await self._bus.unit_state(unit)
            if state.active in _RUNNING or state.active in ("activating", "deactivating"):
                try:
                    job = await self._bus.stop_unit(unit)
                except SystemdError:  # gone in the meantime
                    job = None
                # systemd escalates to SIGKILL itself after TimeoutStopSec; this bound is a backstop.
                with trio.move_on_after(grace + 5) as scope:
                    if job is not None:
                        await self._bus.wait_job(job)
                if scope.cancelled_caught:
                    log.warning("unit did not stop; killing it", daemon=spec.name, unit=unit)
                    await self._kill(unit)
                log.info("daemon stopped", daemon=spec.name, unit=unit)
            if (await self._bus.unit_state(unit)).active == "failed":
                with contextlib.suppress(SystemdError):
                    await self._bus.reset_failed(unit)  # leave nothing behind once stopped on purpose

    async def state(self, spec: DaemonSpec) -> DaemonState:
        state = await self._bus.unit_state(unit_name(spec.name))
        running = state.active in _RUNNING and state.main_pid > 0
        return DaemonState(running=running, pid=state.main_pid if running else None)

    async def _kill(self, unit: str) -> None:
        with contextlib.suppress(SystemdError):
            await self._bus.kill_unit(unit, signal.SIGKILL)
        with contextlib.suppress(SystemdError):
            await self._bus.reset_failed(unit)
