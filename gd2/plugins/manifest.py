"""Which discovered plugins can run, and in what order (pure).

Before anything starts, every plugin has been probed (name, version,
protocols, dependencies).  This module decides, for each: disabled by the
admin, refused (no common protocol, a name taken twice, a missing or too old
dependency, or a dependency that is itself refused), or runnable; runnable
ones start after what they depend on (the supervisor holds them back until
their dependencies run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gd2.plugins.handshake import PROTOCOL_VERSIONS, Probe


def version_key(version: str) -> tuple[int, ...]:
    """'1.10.2' -> (1, 10, 2); anything not a number counts as 0."""
    parts = []
    for part in version.split("-", 1)[0].split("."):
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def at_least(version: str, minimum: str) -> bool:
    a, b = version_key(version), version_key(minimum)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) >= b + (0,) * (width - len(b))


@dataclass(frozen=True)
class Verdict:
    probe: Probe
    path: str
    state: str  # "runnable", "refused", "disabled"
    reason: str = ""


def judge(found: Sequence[tuple[str, Probe]], disabled: frozenset[str],
          offered: Sequence[int] = PROTOCOL_VERSIONS) -> dict[str, Verdict]:
    """Decide for each (executable path, probe); keyed by plugin name."""
    verdicts: dict[str, Verdict] = {}
    for path, probe in found:
        if probe.name in verdicts:
            other = verdicts[probe.name].path
            verdicts[probe.name] = Verdict(probe, other, "refused",
                                           f"two executables call themselves {probe.name}: {other} and {path}")
            continue
        if probe.name in disabled:
            verdicts[probe.name] = Verdict(probe, path, "disabled", "disabled in the configuration")
        elif not set(probe.protocols) & set(offered):
            spoken = ", ".join(str(v) for v in probe.protocols) or "none"
            verdicts[probe.name] = Verdict(probe, path, "refused",
                                           f"plugin {probe.name} speaks plugin protocol {spoken}; this glusterd2 "
                                           f"speaks {', '.join(str(v) for v in offered)}")
        else:
            verdicts[probe.name] = Verdict(probe, path, "runnable")
    changed = True
    while changed:  # a refusal propagates to whatever depends on it
        changed = False
        for name, verdict in list(verdicts.items()):
            if verdict.state != "runnable":
                continue
            reason = _dependency_problem(verdict.probe, verdicts)
            if reason:
                verdicts[name] = Verdict(verdict.probe, verdict.path, "refused", reason)
                changed = True
    cycle = _cycle(verdicts)
    for name in cycle:
        v = verdicts[name]
        verdicts[name] = Verdict(v.probe, v.path, "refused", f"dependency cycle: {' -> '.join(cycle)}")
    return verdicts


def _dependency_problem(probe: Probe, verdicts: Mapping[str, Verdict]) -> str:
    for dep in probe.depends:
        other = verdicts.get(dep.name)
        if other is None:
            return f"plugin {probe.name} needs plugin {dep}, which is not installed"
        if other.state == "disabled":
            return f"plugin {probe.name} needs plugin {dep.name}, which is disabled"
        if other.state == "refused":
            return f"plugin {probe.name} needs plugin {dep.name}, which was refused: {other.reason}"
        if dep.min_version and not at_least(other.probe.version, dep.min_version):
            return (f"plugin {probe.name} needs plugin {dep.name} >= {dep.min_version}; "
                    f"installed: {dep.name} {other.probe.version}")
    return ""


def _cycle(verdicts: Mapping[str, Verdict]) -> list[str]:
    graph = {n: [d.name for d in v.probe.depends] for n, v in verdicts.items() if v.state == "runnable"}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str]:
        if name in done or name not in graph:
            return []
        if name in visiting:
            return [*visiting[visiting.index(name):], name]
        visiting.append(name)
        for dep in graph[name]:
            found = visit(dep)
            if found:
                return found
        visiting.pop()
        done.add(name)
        return []

    for name in sorted(graph):
        found = visit(name)
        if found:
            return sorted(set(found))
    return []


def start_order(verdicts: Mapping[str, Verdict]) -> list[str]:
    """Runnable plugins, each after its dependencies (for display and tests; the supervisor enforces it)."""
    runnable = {n: v for n, v in verdicts.items() if v.state == "runnable"}
    ordered: list[str] = []
    while len(ordered) < len(runnable):
        for name in sorted(runnable):
            if name not in ordered and all(d.name in ordered for d in runnable[name].probe.depends):
                ordered.append(name)
                break
        else:
            break
    return ordered
