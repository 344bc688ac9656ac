"""Xlators that come from outside the core rules (plugins), as plain data.

The plugin host (gd2.plugins) turns what plugins declare into these values;
volgen applies them after the volume options, so it stays pure and knows
nothing of plugins.  A rule makes sure an xlator of ``type`` is in the graph
when its boolean option is on: if the graph already has one, the rule's
options are set on it; otherwise a new xlator is inserted directly above the
first xlator of type ``after`` (and the rule does nothing when there is none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gd2.errors import InvalidRequest
from gd2.volgen.graph import Graph, Xlator
from gd2.volgen.options import GraphKind


@dataclass(frozen=True)
class ExtraXlator:
    """One contributed xlator rule; names and values are templates over the graph's fields."""

    graph: GraphKind
    type: str
    after: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    when: str | None = None  # a boolean volume option key; None: always
    name: str = "{volume}-{leaf}"
    source: str = ""  # who contributed it (a plugin's name), for messages


def insert_above(graph: Graph, below: Xlator, xl: Xlator) -> None:
    """Put ``xl`` between ``below`` and every xlator that had ``below`` as a child."""
    for other in graph.xlators:
        other.children = [xl if child is below else child for child in other.children]
    xl.children = [below]
    graph.xlators.insert(graph.xlators.index(below) + 1, xl)


def apply_extra(graph: Graph, kind: GraphKind, rules: Sequence[ExtraXlator], fields: Mapping[str, str],
                is_on: Callable[[str], bool]) -> None:
    """Apply ``rules`` for graph ``kind``; ``is_on(key)`` says whether a boolean option is on."""
    for rule in rules:
        if rule.graph is not kind or (rule.when is not None and not is_on(rule.when)):
            continue
        values = {**fields, "leaf": rule.type.rsplit("/", 1)[-1]}
        try:
            options = {name.format_map(values): value.format_map(values) for name, value in rule.options.items()}
            name = rule.name.format_map(values)
        except (KeyError, ValueError, IndexError) as exc:
            raise InvalidRequest(f"xlator rule {rule.type} of {rule.source or 'a plugin'}: bad template ({exc})",
                                 {"xlator": rule.type}) from None
        existing = next(graph.of_type(rule.type), None)
        if existing is not None:
            for name, value in options.items():
                existing.set(name, value)
            continue
        below = next(graph.of_type(rule.after), None) if rule.after else None
        if below is None:
            continue
        insert_above(graph, below, Xlator(name, rule.type, options))


__all__ = ["ExtraXlator", "apply_extra", "insert_above"]
