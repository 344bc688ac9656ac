"""The xlator graph and its volfile text.

A graph is a list of xlators in definition order: every xlator's children
come before it and the last one is the top (GLUSTER_PROTOCOL.md §7.1).
Builders append xlators bottom-up, so the order is right by construction;
:func:`render` still checks it, because a volfile that breaks the grammar
makes glusterfs exit with nothing but "parsing the volfile failed".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

# Words the volfile lexer (libglusterfs graph.l) turns into keywords even
# where a name or value is expected; they must be quoted.
_KEYWORDS = frozenset({"volume", "type", "option", "end-volume", "subvolumes", "subvolumeS"})
_NEEDS_QUOTES = frozenset(' \t\r"\\')


class GraphError(ValueError):
    """The graph cannot be written as a valid volfile (a bug in a builder or a rule)."""


@dataclass
class Xlator:
    """One ``volume ... end-volume`` section: a translator instance."""

    name: str
    type: str
    options: dict[str, str] = field(default_factory=dict)
    children: list[Xlator] = field(default_factory=list)

    def set(self, key: str, value: str) -> None:
        """Set (or replace) an option, as glusterd1's ``xlator_set_option`` does."""
        self.options[key] = value


@dataclass
class Graph:
    """Xlators in definition order; the last one is the top of the graph."""

    xlators: list[Xlator] = field(default_factory=list)

    def add(self, name: str, type_: str, children: Sequence[Xlator] = (),
            options: dict[str, str] | None = None) -> Xlator:
        """Append an xlator above ``children`` and return it."""
        xl = Xlator(name, type_, dict(options or {}), list(children))
        self.xlators.append(xl)
        return xl

    def stack(self, name: str, type_: str, options: dict[str, str] | None = None) -> Xlator:
        """Append an xlator whose only child is the current top."""
        return self.add(name, type_, [self.top], options)

    @property
    def top(self) -> Xlator:
        if not self.xlators:
            raise GraphError("the graph is empty")
        return self.xlators[-1]

    def of_type(self, type_: str) -> Iterator[Xlator]:
        return (xl for xl in self.xlators if xl.type == type_)

    def find(self, name: str) -> Xlator:
        for xl in self.xlators:
            if xl.name == name:
                return xl
        raise KeyError(name)


def _word(text: str) -> str:
    """One lexer token: bare when the lexer reads it back unchanged, else quoted."""
    if "\n" in text:
        raise GraphError(f"a volfile word cannot contain a newline: {text!r}")
    if text and not (_NEEDS_QUOTES & set(text)) and not text.startswith("#") and text not in _KEYWORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(graph: Graph) -> None:
    """Raise GraphError unless the graph obeys the volfile grammar's rules.

    Names are unique, every child is defined before its parent, nothing is
    its own child, and every xlator except the top is somebody's child (an
    unreachable xlator would be initialised but never used).
    """
    if not graph.xlators:
        raise GraphError("the graph is empty")
    defined: set[str] = set()
    used: set[str] = set()
    for xl in graph.xlators:
        if not xl.name or not xl.type:
            raise GraphError(f"xlator {xl.name!r} has no name or no type")
        if xl.name in defined:
            raise GraphError(f"xlator {xl.name!r} is defined twice")
        for child in xl.children:
            if child.name == xl.name:
                raise GraphError(f"xlator {xl.name!r} lists itself as a subvolume")
            if child.name not in defined:
                raise GraphError(f"xlator {xl.name!r} uses {child.name!r} before it is defined")
            used.add(child.name)
        defined.add(xl.name)
    orphans = [xl.name for xl in graph.xlators[:-1] if xl.name not in used]
    if orphans:
        raise GraphError(f"xlators not reachable from the top {graph.top.name!r}: {orphans}")


def render(graph: Graph) -> str:
    """The volfile text of ``graph``, in glusterd1's layout."""
    check(graph)
    sections = []
    for xl in graph.xlators:
        lines = [f"volume {_word(xl.name)}", f"    type {_word(xl.type)}"]
        lines += [f"    option {_word(key)} {_word(value)}" for key, value in xl.options.items()]
        if xl.children:
            lines.append("    subvolumes " + " ".join(_word(child.name) for child in xl.children))
        lines.append("end-volume")
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)
