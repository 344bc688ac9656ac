"""The daemon backends' shared contract, against real processes and a real systemd.

Every test of the contract runs on both backends: plain daemonizing
processes, and transient units of a real systemd booted in a private
namespace (``systemd_ns``).  The supervisor tests run the real supervisor
over each backend: restart after kill -9, crash loop → failed, a failed
dependency named.  Process-only behaviour (pidfiles) is tested at the end.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from gd2.daemons.base import DaemonBackend, DaemonSpec
from gd2.daemons.planner import Policy
from gd2.daemons.process import DaemonFailed, ProcessBackend
from gd2.daemons.supervisor import Supervisor
from gd2.daemons.systemd import SystemdBackend
from gd2.errors import GD2Error
from gd2.systemd import SystemdBus, unit_name
from gd2.testing.systemd_ns import SystemdNamespace

# A stand-in with glusterfsd's contract: by default fork, the child writes the
# pidfile, the parent exits 0 once the child is "ready"; with --foreground
# (what a supervising backend appends) it stays in the foreground.  It logs
# to its logfile, as glusterfsd does with -l.
DAEMON = r"""
import os, signal, sys, time
pidfile, logfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
foreground = "--foreground" in sys.argv
def say(text):
    with open(logfile, "a") as log:
        log.write(text + "\n")
if mode == "fail":
    say("E [posix.c] brick directory is gone")
    print("brick directory is gone", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
if not foreground:
    pid = os.fork()
    if pid:
        time.sleep(0.05)
        os._exit(0)
    os.setsid()
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(pidfile, "w").write(str(os.getpid()))
say("I started")
if mode == "crash":
    time.sleep(0.2)
    say("E crashing on purpose")
    os._exit(3)
while True:
    time.sleep(1)
"""


def _spec(tmp_path: Path, mode: str, name: str = "d", depends_on: tuple[str, ...] = ()) -> DaemonSpec:
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON)
    pidfile = tmp_path / "run" / f"{name}.pid"
    logfile = tmp_path / "log" / f"{name}.log"
    return DaemonSpec(name=f"test {name}", argv=(sys.executable, str(script), str(pidfile), str(logfile), mode),
                      pidfile=pidfile, logfile=logfile, identity=str(pidfile), depends_on=depends_on,
                      foreground_args=("--foreground",))


@dataclass
class Harness:
    """One backend under test, and how to see its daemons from the host."""

    kind: str
    backend: DaemonBackend
    fresh: Callable[[], Awaitable[DaemonBackend]]  # another instance, as after a glusterd2 restart
    namespace: SystemdNamespace | None

    def host_pid(self, spec: DaemonSpec, pid: int) -> int:
        if self.namespace is None:
            return pid
        pids = self.namespace.host_pids(unit_name(spec.name))
        assert len(pids) == 1, f"expected one process in {unit_name(spec.name)}, found {pids}"
        return pids[0]


@pytest.fixture(params=["process", "systemd"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(backend_kind: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Harness]:
    if backend_kind == "process":
        async def fresh_process() -> DaemonBackend:
            return ProcessBackend(start_timeout=10)
        yield Harness("process", ProcessBackend(start_timeout=10), fresh_process, None)
        return
    namespace = SystemdNamespace(tmp_path / "systemd")
    await trio.to_thread.run_sync(namespace.boot)
    try:
        async def fresh_systemd() -> DaemonBackend:
            bus = SystemdBus(namespace.bus_address)
            await nursery.start(bus.run)
            return SystemdBackend(bus, start_timeout=10, stop_timeout=1)
        yield Harness("systemd", await fresh_systemd(), fresh_systemd, namespace)
    finally:
        nursery.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(namespace.poweroff)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def _until(predicate: Callable[[], bool], what: str, limit: float = 20) -> None:
    with trio.move_on_after(limit):
        while not predicate():  # noqa: ASYNC110 - the supervisor's status has no event to wait on
            await trio.sleep(0.05)
        return
    raise AssertionError(f"not within {limit}s: {what}")


# ---- the backend contract ------------------------------------------------------------------------

async def test_start_state_stop(harness: Harness, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    pid = await harness.backend.start(spec)
    host_pid = harness.host_pid(spec, pid)
    assert (await harness.backend.state(spec)).pid == pid
    assert await harness.backend.start(spec) == pid, "a running daemon must be adopted, not started twice"
    await harness.backend.stop(spec, grace=5)
    assert not (await harness.backend.state(spec)).running
    assert _gone(host_pid)
    await harness.backend.stop(spec, grace=5)  # twice is fine


async def test_a_restarted_glusterd2_adopts_the_daemon(harness: Harness, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    pid = await harness.backend.start(spec)
    host_pid = harness.host_pid(spec, pid)
    fresh = await harness.fresh()
    assert (await fresh.state(spec)).pid == pid
    assert await fresh.start(spec) == pid
    assert harness.host_pid(spec, pid) == host_pid, "no second process"
    await fresh.stop(spec, grace=5)
    assert _gone(host_pid)


async def test_sigterm_ignored_means_sigkill(harness: Harness, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "stubborn")
    host_pid = harness.host_pid(spec, await harness.backend.start(spec))
    await harness.backend.stop(spec, grace=1)
    assert _gone(host_pid)
    assert not (await harness.backend.state(spec)).running


async def test_state_of_a_daemon_never_started(harness: Harness, tmp_path: Path) -> None:
    state = await harness.backend.state(_spec(tmp_path, "ok", name="never"))
    assert not state.running and state.pid is None


# ---- the supervisor over each backend ------------------------------------------------------------

FAST = Policy(backoff_initial=0.2, backoff_max=1.0, max_deaths=3, window=30.0)


async def _pidfile_written(spec: DaemonSpec) -> None:
    """The stand-in's readiness (a brick's is its SIGNIN): it writes its pidfile once it is up."""
    while not spec.pidfile.exists():  # noqa: ASYNC110 - a file has no event to wait on
        await trio.sleep(0.02)


async def _supervisor(harness: Harness, nursery: trio.Nursery) -> Supervisor:
    supervisor = Supervisor(harness.backend, FAST, ready=_pidfile_written, ready_timeout=10, stop_grace=2,
                            poll_interval=0.1)
    await nursery.start(supervisor.run)
    return supervisor


async def test_a_failure_is_reported_with_its_reason(harness: Harness, tmp_path: Path,
                                                     nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    spec = _spec(tmp_path, "fail")
    await supervisor.ensure([spec])
    await _until(lambda: _has_error(supervisor, spec.name), "the failure is recorded")
    status = supervisor.status(spec.name)
    assert not status.running
    assert "brick directory is gone" in (status.last_error or status.failed or "")
    await supervisor.release([spec])


def _has_error(supervisor: Supervisor, name: str) -> bool:
    status = supervisor.status(name)
    return bool(status.last_error or status.failed)


async def test_a_missing_program_is_a_clear_failure(harness: Harness, tmp_path: Path,
                                                    nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    spec = _spec(tmp_path, "ok")
    missing = DaemonSpec(name=spec.name, argv=("/nonexistent/glusterfsd",), pidfile=spec.pidfile,
                         logfile=spec.logfile, identity=spec.identity)
    await supervisor.ensure([missing])
    await _until(lambda: _has_error(supervisor, spec.name), "the failure is recorded")
    assert "/nonexistent/glusterfsd" in (supervisor.status(spec.name).last_error or "")
    await supervisor.release([missing])


async def test_kill_9_is_restarted_after_backoff(harness: Harness, tmp_path: Path, nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    spec = _spec(tmp_path, "ok")
    first = (await supervisor.ensure([spec]))[spec.name]
    assert first.running and first.pid is not None
    victim = harness.host_pid(spec, first.pid)
    os.kill(victim, signal.SIGKILL)

    def restarted() -> bool:
        status = supervisor.status(spec.name)
        return status.running and status.restarts == 1

    await _until(restarted, "restarted once")
    assert harness.host_pid(spec, supervisor.status(spec.name).pid or 0) != victim
    await supervisor.release([spec])
    assert not (await harness.backend.state(spec)).running


async def test_a_crash_looping_daemon_ends_failed_alone(harness: Harness, tmp_path: Path,
                                                        nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    looping, steady = _spec(tmp_path, "crash", name="looping"), _spec(tmp_path, "ok", name="steady")
    await supervisor.ensure([looping, steady])

    def failed() -> bool:
        return supervisor.status(looping.name).failed is not None

    await _until(failed, "marked failed", limit=30)
    assert "within 30s" in (supervisor.status(looping.name).failed or "")
    assert supervisor.status(steady.name).running, "nothing else is taken down"
    assert supervisor.status(steady.name).restarts == 0
    await supervisor.release([looping, steady])


async def test_a_failed_dependency_is_named_and_the_dependent_never_starts(
        harness: Harness, tmp_path: Path, nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    base = _spec(tmp_path, "fail", name="base")
    dependent = _spec(tmp_path, "ok", name="dependent", depends_on=(base.name,))
    await supervisor.ensure([base, dependent])

    def failed() -> bool:
        return supervisor.status(dependent.name).failed is not None

    await _until(failed, "the dependent is marked failed", limit=30)
    assert f"dependency {base.name} failed" in (supervisor.status(dependent.name).failed or "")
    assert not (await harness.backend.state(dependent)).running
    assert not dependent.pidfile.exists(), "the dependent was never started"
    await supervisor.release([dependent, base])


async def test_dependencies_start_first_and_stop_last(harness: Harness, tmp_path: Path,
                                                      nursery: trio.Nursery) -> None:
    supervisor = await _supervisor(harness, nursery)
    base = _spec(tmp_path, "ok", name="base")
    dependent = _spec(tmp_path, "ok", name="dependent", depends_on=(base.name,))
    result = await supervisor.ensure([dependent, base])
    assert result[base.name].running and result[dependent.name].running
    started = {s.name: s.pidfile.stat().st_mtime_ns for s in (base, dependent)}
    assert started[base.name] <= started[dependent.name]
    await supervisor.release([base, dependent])
    assert not (await harness.backend.state(base)).running
    assert not (await harness.backend.state(dependent)).running


# ---- process backend only ------------------------------------------------------------------------

async def test_process_failure_at_start_is_reported_by_start(tmp_path: Path) -> None:
    with pytest.raises(DaemonFailed, match=r"exit 1.*brick directory is gone"):
        await ProcessBackend(start_timeout=10).start(_spec(tmp_path, "fail"))


async def test_process_hanging_start_is_bounded_and_killed(tmp_path: Path) -> None:
    with pytest.raises(DaemonFailed, match="did not report ready"):
        await ProcessBackend(start_timeout=0.5).start(_spec(tmp_path, "hang"))


async def test_process_stale_pidfile_never_adopts_a_stranger(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "ok")
    spec.pidfile.parent.mkdir(parents=True)
    spec.pidfile.write_text(str(os.getpid()))  # alive, but not this daemon
    backend = ProcessBackend(start_timeout=10)
    assert not (await backend.state(spec)).running
    pid = await backend.start(spec)
    assert pid != os.getpid()
    await backend.stop(spec, grace=5)
    os.kill(os.getpid(), 0)  # we are still alive: stop() did not signal the stranger


async def test_systemd_refusal_is_translated(tmp_path: Path, nursery: trio.Nursery) -> None:
    namespace = SystemdNamespace(tmp_path / "systemd")
    await trio.to_thread.run_sync(namespace.boot)
    try:
        bus = SystemdBus(namespace.bus_address)
        await nursery.start(bus.run)
        bad = DaemonSpec(name="test relative", argv=("relative/path",), pidfile=tmp_path / "p",
                         logfile=tmp_path / "l", identity="x")
        with pytest.raises(GD2Error, match=r"systemd refused gd2-test-relative\.service"):
            await SystemdBackend(bus, start_timeout=5, stop_timeout=1).start(bad)
    finally:
        nursery.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(namespace.poweroff)
