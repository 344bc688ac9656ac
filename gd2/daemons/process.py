"""The plain-process backend: GlusterFS daemons that daemonize themselves.

``glusterfsd`` forks; its parent exits 0 only after the brick has signed in
with glusterd2 over portmap (or non-zero if it failed), so waiting for the
parent is waiting for readiness.  The child writes ``-p PIDFILE``, which is
how a restarted glusterd2 finds it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path

import structlog
import trio

from gd2.daemons.base import DaemonSpec, DaemonState, log_tail
from gd2.errors import GD2Error

log = structlog.get_logger(__name__)


class DaemonFailed(GD2Error):
    code = "daemon_failed"


def read_pid(spec: DaemonSpec) -> int | None:
    """The pid in ``spec.pidfile`` if that process is alive and is this daemon."""
    try:
        pid = int(spec.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    zombie = status.rsplit(")", 1)[-1].split()[0] == "Z"
    return pid if spec.identity in cmdline and not zombie else None


async def wait_for_exit(pid: int) -> None:
    """Wait until ``pid`` (not necessarily our child) has exited, via a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await trio.lowlevel.wait_readable(fd)
    finally:
        os.close(fd)


class ProcessBackend:
    """Runs daemons as ordinary processes, found again through their pidfiles."""

    def __init__(self, start_timeout: float) -> None:
        self._start_timeout = start_timeout

    async def start(self, spec: DaemonSpec) -> int:
        running = read_pid(spec)
        if running is not None:
            return running
        for directory in (spec.pidfile.parent, spec.logfile.parent, *spec.runtime_dirs):
            directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            spec.pidfile.unlink()
        env = {**os.environ, **spec.env}
        env.pop("NOTIFY_SOCKET", None)
        # stderr goes to a file, not a pipe: the daemonized child may keep
        # the parent's descriptors, and we wait for the parent only.
        with tempfile.TemporaryFile() as errors:
            try:
                process = await trio.lowlevel.open_process(
                    list(spec.argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                    env=env, start_new_session=True,
                )
            except OSError as exc:
                raise DaemonFailed(f"{spec.name}: cannot run {spec.argv[0]}: {exc.strerror}") from None
            try:
                with trio.fail_after(self._start_timeout):
                    status = await process.wait()
            except trio.TooSlowError:
                raise DaemonFailed(f"{spec.name} did not report ready within {self._start_timeout:g}s; "
                                   f"log: {log_tail(spec.logfile)}") from None
            finally:
                if process.returncode is None:
                    with trio.CancelScope(shield=True):
                        await self._kill_starting(process, spec)
            errors.seek(0)
            stderr = errors.read(8192)
        if status != 0:
            detail = stderr.decode(errors="replace").strip() or log_tail(spec.logfile)
            raise DaemonFailed(f"{spec.name} failed to start (exit {status}): {detail}")
        for _ in range(100):  # the child writes the pidfile before signing in; allow for a slow disk
            pid = read_pid(spec)
            if pid is not None:
                log.info("daemon started", daemon=spec.name, pid=pid)
                return pid
            await trio.sleep(0.01)
        raise DaemonFailed(f"{spec.name} started but left no pid in {spec.pidfile}")

    async def _kill_starting(self, process: trio.Process, spec: DaemonSpec) -> None:
        process.kill()
        await process.wait()
        pid = read_pid(spec)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    async def stop(self, spec: DaemonSpec, grace: float) -> None:
        pid = read_pid(spec)
        if pid is None:
            return
        with trio.CancelScope(shield=True):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            with trio.move_on_after(grace):
                await wait_for_exit(pid)
                log.info("daemon stopped", daemon=spec.name, pid=pid)
                return
            log.warning("daemon ignored SIGTERM; killing", daemon=spec.name, pid=pid, grace=grace)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            await wait_for_exit(pid)

    async def state(self, spec: DaemonSpec) -> DaemonState:
        await trio.lowlevel.checkpoint()
        pid = read_pid(spec)
        return DaemonState(running=pid is not None, pid=pid)


