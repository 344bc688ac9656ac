"""The supervisor tree's executor: observe, plan (gd2.daemons.planner), act, repeat.

One loop per node runs every daemon glusterd2 wants (bricks, self-heal
daemons; plugins later), on whichever backend (plain processes or systemd
units).  Services say what they want with :meth:`Supervisor.ensure` and
:meth:`Supervisor.release`; the loop starts what is missing in dependency
order, restarts what dies with exponential backoff, gives up on a daemon that
crash-loops (marking it failed, touching nothing else), and stops what is no
longer wanted, dependents first.  After glusterd2 restarts, daemons that are
still running are adopted through the backend (pidfiles, unit names) rather
than started twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import structlog
import trio

from gd2.daemons.base import DaemonBackend, DaemonSpec, DaemonState, log_tail
from gd2.daemons.planner import Memory, Policy, Verb, plan
from gd2.errors import GD2Error

log = structlog.get_logger(__name__)

class DaemonExited(GD2Error):
    code = "daemon_failed"


Readiness = Callable[[DaemonSpec], Awaitable[None]]
SpecFactory = Callable[[], DaemonSpec]
# Told (what, daemon name, detail) when a daemon "started", "stopped", "died", "restarted" or
# "failed" (gave up on); the composition root turns these into events.  Must not block.
DaemonNotice = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Supervised:
    """What the supervisor reports of one daemon."""

    name: str
    running: bool
    pid: int | None
    restarts: int
    failed: str | None
    last_error: str | None


class Supervisor:
    def __init__(self, backend: DaemonBackend, policy: Policy, *, ready: Readiness | None = None,
                 ready_timeout: float = 60.0, stop_grace: float = 10.0, poll_interval: float = 1.0,
                 notice: DaemonNotice | None = None) -> None:
        self._backend = backend
        self._notice = notice
        self._policy = policy
        self._ready = ready
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._poll = poll_interval
        self._specs: dict[str, DaemonSpec] = {}
        self._factories: dict[str, SpecFactory] = {}
        self._wanted: set[str] = set()
        self._memory: dict[str, Memory] = {}
        self._observed: dict[str, DaemonState] = {}
        self._wake = trio.Event()
        self._round_done = trio.Condition()
        self._rounds = 0

    # ---- what services call ---------------------------------------------------------------------

    async def ensure(self, specs: Iterable[DaemonSpec], *, factories: Mapping[str, SpecFactory] | None = None,
                     force: bool = False) -> dict[str, Supervised]:
        """Want ``specs`` running; return once each runs, failed, or its first start attempt ended.

        ``factories`` give a fresh spec before each (re)start (a brick needs a free port).
        ``force`` forgets earlier failures, as ``volume start force`` does.
        """
        names = []
        for spec in specs:
            self._specs[spec.name] = spec
            if factories and spec.name in factories:
                self._factories[spec.name] = factories[spec.name]
            self._wanted.add(spec.name)
            if force:
                self._memory[spec.name] = Memory()
            names.append(spec.name)
        attempts = {n: len(self._memory.get(n, Memory()).deaths) for n in names}
        first = self._rounds
        while True:
            await self._next_round()
            settled = all(self._settled(n, attempts[n]) for n in names)
            if settled or self._rounds - first > 3 + len(names):
                return {n: self.status(n) for n in names}

    def _settled(self, name: str, deaths_before: int) -> bool:
        memory = self._memory.get(name, Memory())
        return (self._observed.get(name, DaemonState(False)).running or memory.failed is not None
                or len(memory.deaths) > deaths_before)

    async def release(self, specs: Iterable[DaemonSpec]) -> None:
        """Stop wanting ``specs``, stop them if they run (known or not), and return once stopped."""
        names = []
        for spec in specs:
            self._specs.setdefault(spec.name, spec)
            self._wanted.discard(spec.name)
            names.append(spec.name)
        if not names:
            return
        await self._next_round()
        while any(self._observed.get(n, DaemonState(False)).running for n in names):
            await self._next_round()
        for name in names:
            self._memory.pop(name, None)

    def poke(self) -> None:
        """Something changed (a unit's state, say): run a round now rather than at the next poll."""
        self._wake.set()

    def status(self, name: str) -> Supervised:
        memory = self._memory.get(name, Memory())
        state = self._observed.get(name, DaemonState(False))
        return Supervised(name=name, running=state.running, pid=state.pid, restarts=memory.restarts,
                          failed=memory.failed, last_error=memory.last_error)

    def _tell(self, what: str, name: str, detail: str = "") -> None:
        if self._notice is not None:
            try:
                self._notice(what, name, detail)
            except Exception as exc:  # a listener's bug must not stop supervision
                log.error("daemon notice failed", daemon=name, what=what, error=f"{type(exc).__name__}: {exc}")

    # ---- the loop -------------------------------------------------------------------------------

    async def _next_round(self) -> None:
        async with self._round_done:
            target = self._rounds + 1
            self._wake.set()
            while self._rounds < target:
                await self._round_done.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Supervise until cancelled (daemons keep running: glusterd2 may be restarting)."""
        task_status.started()
        while True:
            wake_at = await self._round()
            async with self._round_done:
                self._rounds += 1
                self._round_done.notify_all()
            timeout = self._poll
            if wake_at is not None:
                timeout = min(timeout, max(0.0, wake_at - trio.current_time()))
            with trio.move_on_after(timeout):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _observe(self) -> None:
        async def one(name: str, spec: DaemonSpec) -> None:
            try:
                self._observed[name] = await self._backend.state(spec)
            except GD2Error as exc:
                log.warning("cannot observe daemon", daemon=name, error=exc.message)

        async with trio.open_nursery() as nursery:  # all at once: a backend call may be a bus round trip
            for name, spec in list(self._specs.items()):
                nursery.start_soon(one, name, spec)

    async def _round(self) -> float | None:
        await self._observe()
        decided = plan(self._specs, frozenset(self._wanted), self._observed, self._memory,
                       trio.current_time(), self._policy)
        for name, memory in decided.memory.items():
            before = self._memory.get(name, Memory())
            if memory.deaths != before.deaths and len(memory.deaths) >= len(before.deaths):
                why = f"exited unexpectedly; log: {log_tail(self._specs[name].logfile)}"
                log.warning("daemon died", daemon=name, log=why)
                self._tell("died", name, why)
                failed = f"{memory.failed}; last: {why}" if memory.failed and not before.failed else memory.failed
                memory = replace(memory, last_error=why, failed=failed)
            self._memory[name] = memory
        starts = [a.name for a in decided.actions if a.verb is Verb.START]
        stops = [self._specs[a.name] for a in decided.actions if a.verb is Verb.STOP]
        for action in decided.actions:
            if action.verb is Verb.FAIL:
                log.error("daemon failed; not restarting it", daemon=action.name,
                          reason=self._memory[action.name].failed or action.reason)
                self._tell("failed", action.name, self._memory[action.name].failed or action.reason)
        stopping = {spec.name for spec in stops}
        if any(set(spec.depends_on) & stopping for spec in stops):
            for spec in stops:  # in the planner's order: dependents first
                await self._backend.stop(spec, self._stop_grace)
        else:
            async with trio.open_nursery() as nursery:  # independent: all at once
                for spec in stops:
                    nursery.start_soon(self._backend.stop, spec, self._stop_grace)
        for spec in stops:
            self._tell("stopped", spec.name)
        if starts:
            async with trio.open_nursery() as nursery:
                for name in starts:
                    nursery.start_soon(self._start, name)
        await self._observe()
        for name in self._wanted:
            if self._observed.get(name, DaemonState(False)).running:
                self._memory[name] = replace(self._memory.get(name, Memory()), was_running=True)
        for name in [n for n in self._specs if n not in self._wanted]:
            if not self._observed.get(name, DaemonState(False)).running:
                self._specs.pop(name, None)
                self._factories.pop(name, None)
                self._observed.pop(name, None)
        return decided.wake_at

    async def _until_ready(self, spec: DaemonSpec) -> None:
        """The daemon's own readiness (a brick's SIGNIN), unless it dies first."""
        assert self._ready is not None
        ready = self._ready
        died: list[str] = []

        async def watch(cancel: trio.CancelScope) -> None:
            while True:  # polled: the process backend has no change notifications
                state = await self._backend.state(spec)
                if not state.running:
                    break
                await trio.sleep(0.05)
            died.append(spec.name)
            cancel.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, nursery.cancel_scope)
            await ready(spec)
            nursery.cancel_scope.cancel()
        if died:
            raise DaemonExited(f"{spec.name} exited before it was ready; log: {log_tail(spec.logfile)}")

    async def _start(self, name: str) -> None:
        factory = self._factories.get(name)
        spec = self._specs[name]
        memory = self._memory.get(name, Memory())
        restarting = bool(memory.deaths)
        try:
            if factory is not None:
                spec = self._specs[name] = factory()
            pid = await self._backend.start(spec)
            if self._ready is not None:
                with trio.fail_after(self._ready_timeout):
                    await self._until_ready(spec)
        except (GD2Error, trio.TooSlowError) as exc:
            error = exc.message if isinstance(exc, GD2Error) else f"not ready within {self._ready_timeout:g}s"
            log.warning("daemon failed to start", daemon=name, error=error)
            await self._backend.stop(spec, self._stop_grace)
            now = trio.current_time()
            deaths = (*memory.recent(now, self._policy.window), now)
            failed = memory.failed
            if len(deaths) >= self._policy.max_deaths:
                failed = f"failed to start {len(deaths)} times within {self._policy.window:g}s: {error}"
                log.error("daemon failed; not restarting it", daemon=name, reason=failed)
                self._tell("failed", name, failed)
            self._memory[name] = replace(memory, deaths=deaths, last_error=error, was_running=False, failed=failed,
                                         not_before=now + self._policy.backoff(len(deaths)))
            return
        if restarting:
            log.warning("daemon restarted", daemon=name, pid=pid, restarts=memory.restarts + 1)
        self._tell("restarted" if restarting else "started", name, f"pid {pid}")
        self._memory[name] = replace(memory, was_running=True, last_error=None,
                                     restarts=memory.restarts + (1 if restarting else 0))
