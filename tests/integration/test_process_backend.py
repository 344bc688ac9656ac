"""The plain-process daemon backend against real daemonizing processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gd2.daemons.base import DaemonSpec
from gd2.daemons.process import DaemonFailed, ProcessBackend

# A stand-in with glusterfsd's contract: fork, the child writes the pidfile,
# the parent exits 0 once the child is "ready" (or non-zero when it is not).
DAEMON = r"""
import os, signal, sys, time
pidfile, mode = sys.argv[1], sys.argv[2]
if mode == "fail":
    print("brick directory is gone", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
pid = os.fork()
if pid:
    time.sleep(0.05)
    os._exit(0)
os.setsid()
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(pidfile, "w").write(str(os.getpid()))
while True:
    time.sleep(1)
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _spec(tmp_path: Path, mode: str, name: str = "d") -> DaemonSpec:
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON)
    pidfile = tmp_path / "run" / f"{name}.pid"
    return DaemonSpec(name=f"test {name}", argv=(sys.executable, str(script), str(pidfile), mode),
                      pidfile=pidfile, logfile=tmp_path / "log" / f"{name}.log", identity=str(pidfile))


async def test_start_state_stop(tmp_path: Path) -> None:
    backend = ProcessBackend(start_timeout=10)
    spec = _spec(tmp_path, "ok")
    pid = await backend.start(spec)
    assert (await backend.state(spec)).pid == pid
    assert await backend.start(spec) == pid, "a running daemon must be adopted, not started twice"
    await backend.stop(spec, grace=5)
    assert not (await backend.state(spec)).running
    await backend.stop(spec, grace=5)  # twice is fine


async def test_a_restarted_backend_finds_the_daemon(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    pid = await ProcessBackend(start_timeout=10).start(spec)
    fresh = ProcessBackend(start_timeout=10)
    assert (await fresh.state(spec)).pid == pid
    await fresh.stop(spec, grace=5)


async def test_failure_is_reported_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(DaemonFailed, match=r"exit 1.*brick directory is gone"):
        await ProcessBackend(start_timeout=10).start(_spec(tmp_path, "fail"))


async def test_a_hanging_start_is_bounded_and_killed(tmp_path: Path) -> None:
    with pytest.raises(DaemonFailed, match="did not report ready"):
        await ProcessBackend(start_timeout=0.5).start(_spec(tmp_path, "hang"))


async def test_sigterm_ignored_means_sigkill(tmp_path: Path) -> None:
    backend = ProcessBackend(start_timeout=10)
    spec = _spec(tmp_path, "stubborn")
    pid = await backend.start(spec)
    await backend.stop(spec, grace=0.3)
    assert _gone(pid)


async def test_a_stale_pidfile_never_adopts_a_stranger(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    spec.pidfile.parent.mkdir(parents=True)
    spec.pidfile.write_text(str(os.getpid()))  # alive, but not this daemon
    backend = ProcessBackend(start_timeout=10)
    assert not (await backend.state(spec)).running
    pid = await backend.start(spec)
    assert pid != os.getpid()
    await backend.stop(spec, grace=5)
    os.kill(os.getpid(), 0)  # we are still alive: stop() did not signal the stranger


async def test_a_missing_program_is_a_clear_failure(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    missing = DaemonSpec(name=spec.name, argv=("/nonexistent/glusterfsd",), pidfile=spec.pidfile,
                         logfile=spec.logfile, identity=spec.identity)
    with pytest.raises(DaemonFailed, match="cannot run /nonexistent/glusterfsd"):
        await ProcessBackend(start_timeout=10).start(missing)
