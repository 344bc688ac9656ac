"""The supervisor tree: planner rules (pure) and the executor over a fake backend,
with trio's autojump clock standing in for minutes of backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from gd2.daemons.base import DaemonSpec, DaemonState
from gd2.daemons.planner import Memory, Policy, Verb, plan
from gd2.daemons.supervisor import Supervisor
from gd2.testing import FakeBackend

POLICY = Policy(backoff_initial=0.5, backoff_max=8, max_deaths=4, window=60)


def _spec(name: str, *deps: str) -> DaemonSpec:
    return DaemonSpec(name=name, argv=("true",), pidfile=Path(f"/nonexistent/{name}.pid"),
                      logfile=Path(f"/nonexistent/{name}.log"), identity=name, depends_on=deps)


def _plan(wanted: set[str], running: set[str], memory: dict[str, Memory] | None = None, now: float = 100.0,
          specs: list[DaemonSpec] | None = None) -> list[tuple[Verb, str, str]]:
    all_specs = {s.name: s for s in specs or [_spec("a"), _spec("b", "a"), _spec("c", "b")]}
    observed = {n: DaemonState(n in running, 1 if n in running else None) for n in all_specs}
    decided = plan(all_specs, frozenset(wanted), observed, memory or {}, now, POLICY)
    return [(a.verb, a.name, a.reason) for a in decided.actions]


def test_dependencies_start_first() -> None:
    assert _plan({"a", "b", "c"}, set()) == [(Verb.START, "a", "start")]
    assert _plan({"a", "b", "c"}, {"a"}) == [(Verb.START, "b", "start")]
    assert _plan({"a", "b", "c"}, {"a", "b"}) == [(Verb.START, "c", "start")]


def test_unwanted_daemons_stop_dependents_first() -> None:
    assert [name for _, name, _ in _plan(set(), {"a", "b", "c"})] == ["c", "b", "a"]


def test_a_failed_dependency_fails_its_dependents_by_name() -> None:
    memory = {"a": Memory(failed="crash-looping")}
    actions = _plan({"a", "b", "c"}, set(), memory)
    assert (Verb.FAIL, "b", "dependency a failed") in actions
    assert not any(verb is Verb.START for verb, _, _ in actions)


def test_death_backs_off_then_restarts() -> None:
    memory = {"a": Memory(was_running=True)}
    specs = [_spec("a")]
    assert _plan({"a"}, set(), memory, now=100.0, specs=specs) == []  # backing off
    all_specs = {"a": specs[0]}
    decided = plan(all_specs, frozenset({"a"}), {"a": DaemonState(False)}, memory, 100.0, POLICY)
    assert decided.wake_at == 100.5
    later = plan(all_specs, frozenset({"a"}), {"a": DaemonState(False)}, decided.memory, 100.5, POLICY)
    assert [(a.verb, a.name) for a in later.actions] == [(Verb.START, "a")]


def test_backoff_grows_and_is_capped() -> None:
    assert [POLICY.backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_crash_loop_is_marked_failed() -> None:
    memory = {"a": Memory(was_running=True, deaths=(70.0, 80.0, 90.0))}
    actions = _plan({"a"}, set(), memory, specs=[_spec("a")])
    assert actions == [(Verb.FAIL, "a", "crash-looping: died 4 times within 60s")]
    old = {"a": Memory(was_running=True, deaths=(10.0, 20.0, 30.0))}  # outside the window
    assert _plan({"a"}, set(), old, specs=[_spec("a")]) == []  # just backing off


@pytest.fixture
async def supervised() -> AsyncIterator[tuple[Supervisor, FakeBackend]]:
    backend = FakeBackend()
    supervisor = Supervisor(backend, POLICY, poll_interval=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        yield supervisor, backend
        nursery.cancel_scope.cancel()


async def test_ensure_starts_in_order_and_adopts(
    supervised: tuple[Supervisor, FakeBackend], autojump_clock: trio.testing.MockClock
) -> None:
    supervisor, backend = supervised
    backend.running["a"] = 4242  # left running by a previous glusterd2
    result = await supervisor.ensure([_spec("a"), _spec("b", "a")])
    assert result["a"].pid == 4242 and result["b"].running
    assert backend.started == ["b"]


async def test_a_dead_daemon_is_restarted_after_backoff(
    supervised: tuple[Supervisor, FakeBackend], autojump_clock: trio.testing.MockClock
) -> None:
    supervisor, backend = supervised
    await supervisor.ensure([_spec("a"), _spec("b")])
    backend.kill("a")
    await trio.sleep(5)
    assert supervisor.status("a").running and supervisor.status("a").restarts == 1
    assert backend.started.count("b") == 1, "a sibling must not be touched"


async def test_a_crash_looping_daemon_ends_failed_alone(
    supervised: tuple[Supervisor, FakeBackend], autojump_clock: trio.testing.MockClock
) -> None:
    supervisor, backend = supervised
    await supervisor.ensure([_spec("a"), _spec("b")])
    for _ in range(10):
        backend.kill("a")
        await trio.sleep(10)  # well inside the 60 s window: 4 deaths in ~30 s
        if supervisor.status("a").failed:
            break
    status = supervisor.status("a")
    assert status.failed is not None and "crash-looping" in status.failed
    assert not status.running
    assert supervisor.status("b").running and backend.started.count("b") == 1
    # volume start force: forget the failure and try again
    result = await supervisor.ensure([_spec("a")], force=True)
    assert result["a"].running and result["a"].failed is None


async def test_start_failures_count_and_name_the_error(
    supervised: tuple[Supervisor, FakeBackend], autojump_clock: trio.testing.MockClock
) -> None:
    supervisor, backend = supervised
    backend.fail_starts["a"] = 100
    result = await supervisor.ensure([_spec("a"), _spec("b", "a")])
    assert not result["a"].running and "failed to start" in (result["a"].last_error or "")
    await trio.sleep(120)
    assert supervisor.status("a").failed is not None
    b = supervisor.status("b")
    assert not b.running and b.failed == "dependency a failed"
    assert "b" not in backend.started


async def test_release_stops_dependents_first(
    supervised: tuple[Supervisor, FakeBackend], autojump_clock: trio.testing.MockClock
) -> None:
    supervisor, backend = supervised
    specs = [_spec("a"), _spec("b", "a"), _spec("c", "b")]
    await supervisor.ensure(specs)
    await supervisor.release(specs)
    assert backend.stopped == ["c", "b", "a"] and backend.running == {}
    await trio.sleep(10)
    assert backend.started == ["a", "b", "c"], "released daemons must not come back"
