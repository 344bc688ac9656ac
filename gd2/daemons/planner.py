"""The supervisor's decisions, as a pure function: (desired, observed, memory, now) → actions.

Rules, in the order they apply to each daemon:

- not wanted but running → stop it (dependents before their dependencies);
- wanted, marked failed → nothing (an admin must ask again: ``volume start force``);
- wanted, a dependency failed → mark it failed too, naming the dependency;
- wanted, a dependency not running yet → wait;
- wanted, not running → start it, unless its backoff has not elapsed; a daemon
  that died ``max_deaths`` times within ``window`` seconds is marked failed
  instead of being restarted again (it is crash-looping), and nothing else is
  taken down with it.

The executor (gd2.daemons.supervisor) observes, calls :func:`plan`, carries
the actions out, and records what happened with :func:`record_death`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from gd2.daemons.base import DaemonSpec, DaemonState


@dataclass(frozen=True)
class Policy:
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_deaths: int = 5
    window: float = 60.0

    def backoff(self, deaths: int) -> float:
        """Delay before the restart that follows the ``deaths``-th recent death."""
        return float(min(self.backoff_max, self.backoff_initial * 2 ** max(0, deaths - 1)))


@dataclass(frozen=True)
class Memory:
    """What the supervisor remembers of one daemon between rounds."""

    deaths: tuple[float, ...] = ()  # times of recent unexpected exits
    not_before: float = 0.0  # no (re)start before this time
    failed: str | None = None  # why it was given up on
    was_running: bool = False
    restarts: int = 0
    last_error: str | None = None  # why the last start failed, if it did

    def recent(self, now: float, window: float) -> tuple[float, ...]:
        return tuple(t for t in self.deaths if now - t <= window)


class Verb(Enum):
    START = "start"
    STOP = "stop"
    FAIL = "fail"


@dataclass(frozen=True)
class Action:
    verb: Verb
    name: str
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    memory: Mapping[str, Memory] = field(default_factory=dict)
    wake_at: float | None = None  # the earliest backoff that ends, if any


def record_death(memory: Memory, now: float, policy: Policy) -> Memory:
    """A running daemon was found dead: remember when, and when it may start again."""
    deaths = (*memory.recent(now, policy.window), now)
    return replace(memory, deaths=deaths, not_before=now + policy.backoff(len(deaths)), was_running=False)


def _stop_order(names: list[str], specs: Mapping[str, DaemonSpec]) -> list[str]:
    """Dependents before what they depend on."""
    ordered: list[str] = []
    remaining = set(names)
    while remaining:
        progressed = False
        for name in sorted(remaining):
            blockers = {n for n in remaining if n != name and name in _deps_of(specs.get(n))}
            if not blockers:
                ordered.append(name)
                remaining.discard(name)
                progressed = True
        if not progressed:  # a cycle: stop the rest in name order
            ordered.extend(sorted(remaining))
            break
    return ordered


def _deps_of(spec: DaemonSpec | None) -> tuple[str, ...]:
    return spec.depends_on if spec is not None else ()


def plan(specs: Mapping[str, DaemonSpec], wanted: frozenset[str], observed: Mapping[str, DaemonState],
         memory: Mapping[str, Memory], now: float, policy: Policy) -> Plan:
    """Decide one round.

    ``specs`` holds every daemon the supervisor knows (wanted or not), ``observed``
    their states; dependencies are ``DaemonSpec.depends_on`` (names).
    """
    actions: list[Action] = []
    new_memory = dict(memory)
    wake: list[float] = []

    unwanted = [name for name, state in observed.items() if state.running and name not in wanted]
    actions += [Action(Verb.STOP, name, "no longer wanted") for name in _stop_order(unwanted, specs)]

    for name in sorted(wanted):
        deps = specs[name].depends_on
        mem = new_memory.get(name, Memory())
        state = observed.get(name, DaemonState(running=False))
        if state.running:
            new_memory[name] = replace(mem, was_running=True)
            continue
        if mem.was_running:
            mem = record_death(mem, now, policy)
            if len(mem.recent(now, policy.window)) >= policy.max_deaths:
                mem = replace(mem, failed=f"crash-looping: died {policy.max_deaths} times within "
                                          f"{policy.window:g}s")
                actions.append(Action(Verb.FAIL, name, mem.failed or ""))
            new_memory[name] = mem
        if mem.failed is not None:
            continue
        broken = [d for d in deps if (new_memory.get(d) or Memory()).failed is not None
                  or (d not in wanted)]
        if broken:
            reason = f"dependency {broken[0]} " + ("failed" if broken[0] in wanted else "is not configured")
            new_memory[name] = replace(mem, failed=reason)
            actions.append(Action(Verb.FAIL, name, reason))
            continue
        if not all(observed.get(d, DaemonState(running=False)).running for d in deps):
            continue  # wait for the dependencies to come up
        if now < mem.not_before:
            wake.append(mem.not_before)
            continue
        actions.append(Action(Verb.START, name, "restart" if mem.deaths else "start"))
    return Plan(tuple(actions), new_memory, min(wake) if wake else None)
