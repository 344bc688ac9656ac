"""A tiny volfile parser for the volgen tests, and its own tests.

It reads volfiles the way libglusterfs does (graph.l / graph.y) and checks
the rules of GLUSTER_PROTOCOL.md §7.1: every volume has a type, no option
key is given twice, a subvolume is defined before it is used and is not the
volume itself, and the last volume is the top. It also checks that every
volume is reachable from the top. Other volgen test modules load this file
by path (tests are not a package under importlib import mode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

_TOKEN = re.compile(r'\s+|#[^\n]*|"(?P<quoted>(?:[^\n"\\]|\\.)*)"|(?P<word>[^ \t\r\n"\\]+)')
_KEYWORDS = {"volume", "type", "option", "end-volume", "subvolumes", "subvolumeS"}


class VolfileSyntaxError(ValueError):
    pass


@dataclass
class Section:
    name: str
    type: str = ""
    options: dict[str, str] = field(default_factory=dict)
    subvolumes: list[str] = field(default_factory=list)


@dataclass
class Parsed:
    sections: dict[str, Section]

    @property
    def top(self) -> Section:
        return list(self.sections.values())[-1]

    def of_type(self, type_: str) -> list[Section]:
        return [s for s in self.sections.values() if s.type == type_]

    def edges(self) -> dict[str, list[str]]:
        return {name: s.subvolumes for name, s in self.sections.items()}

    def chain_below(self, name: str) -> list[str]:
        """Names from ``name`` down a single-child chain, e.g. a brick stack."""
        names = [name]
        while len(self.sections[names[-1]].subvolumes) == 1:
            names.append(self.sections[names[-1]].subvolumes[0])
        return names


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, is_keyword) pairs; a quoted word is never a keyword."""
    out: list[tuple[str, bool]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise VolfileSyntaxError(f"cannot read {text[pos:pos + 20]!r}")
        pos = match.end()
        if match["quoted"] is not None:
            out.append((re.sub(r"\\(.)", r"\1", match["quoted"]), False))
        elif match["word"] is not None:
            out.append((match["word"], match["word"] in _KEYWORDS))
    return out


def parse_volfile(text: str) -> Parsed:
    tokens = _tokens(text)
    sections: dict[str, Section] = {}
    i = 0

    def word() -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i][1]:
            raise VolfileSyntaxError(f"a word expected at token {i}")
        i += 1
        return tokens[i - 1][0]

    while i < len(tokens):
        if tokens[i] != ("volume", True):
            raise VolfileSyntaxError(f"'volume' expected, got {tokens[i][0]!r}")
        i += 1
        section = Section(word())
        if section.name in sections:
            raise VolfileSyntaxError(f"volume {section.name!r} defined twice")
        while i < len(tokens) and tokens[i] != ("end-volume", True):
            keyword, is_keyword = tokens[i]
            i += 1
            if not is_keyword:
                raise VolfileSyntaxError(f"keyword expected in {section.name!r}, got {keyword!r}")
            if keyword == "type":
                if section.type:
                    raise VolfileSyntaxError(f"two types in {section.name!r}")
                section.type = word()
            elif keyword == "option":
                key, value = word(), word()
                if key in section.options:
                    raise VolfileSyntaxError(f"option {key!r} given twice in {section.name!r}")
                section.options[key] = value
            elif keyword in ("subvolumes", "subvolumeS"):
                if section.subvolumes:
                    raise VolfileSyntaxError(f"two subvolumes lines in {section.name!r}")
                while i < len(tokens) and not tokens[i][1]:
                    child = word()
                    if child == section.name:
                        raise VolfileSyntaxError(f"{section.name!r} is its own subvolume")
                    if child not in sections:
                        raise VolfileSyntaxError(f"{section.name!r} uses {child!r} before its definition")
                    section.subvolumes.append(child)
                if not section.subvolumes:
                    raise VolfileSyntaxError(f"empty subvolumes line in {section.name!r}")
            else:
                raise VolfileSyntaxError(f"unexpected {keyword!r} in {section.name!r}")
        if i >= len(tokens):
            raise VolfileSyntaxError(f"volume {section.name!r} has no end-volume")
        i += 1
        if not section.type:
            raise VolfileSyntaxError(f"volume {section.name!r} has no type")
        sections[section.name] = section
    if not sections:
        raise VolfileSyntaxError("no volumes")
    parsed = Parsed(sections)
    reachable: set[str] = set()
    todo = [parsed.top.name]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(sections[name].subvolumes)
    if unreachable := [name for name in sections if name not in reachable]:
        raise VolfileSyntaxError(f"not reachable from the top: {unreachable}")
    return parsed


# ---- the parser's own tests -----------------------------------------------------------------------

GOOD = """
# a comment
volume a
    type storage/posix
    option directory /bricks/b1   # trailing comment
    option "quoted key" "a \\"b\\" c"
end-volume

volume "volume"
    type debug/io-stats
    subvolumes a
    option after-subvolumes yes
end-volume
"""


def test_parses_a_good_volfile() -> None:
    parsed = parse_volfile(GOOD)
    assert list(parsed.sections) == ["a", "volume"]
    assert parsed.top.name == "volume"
    assert parsed.sections["a"].options == {"directory": "/bricks/b1", "quoted key": 'a "b" c'}
    assert parsed.edges() == {"a": [], "volume": ["a"]}
    assert parsed.chain_below("volume") == ["volume", "a"]


@pytest.mark.parametrize(("text", "error"), [
    ("volume a\n option k v\nend-volume\n", "no type"),
    ("volume a\n type t\n option k v\n option k w\nend-volume\n", "given twice"),
    ("volume a\n type t\n subvolumes b\nend-volume\nvolume b\n type t\nend-volume\n", "before its definition"),
    ("volume a\n type t\n subvolumes a\nend-volume\n", "its own subvolume"),
    ("volume a\n type t\nend-volume\nvolume a\n type t\nend-volume\n", "defined twice"),
    ("volume a\n type t\nend-volume\nvolume b\n type t\nend-volume\n", "not reachable"),
    ("volume a\n type t\n", "no end-volume"),
    ("volume a\n type t\n option k\nend-volume\n", "word expected"),
    ("volume a\n type t\n option volume v\nend-volume\n", "word expected"),
    ("", "no volumes"),
])
def test_rejects_what_glusterfs_rejects(text: str, error: str) -> None:
    with pytest.raises(VolfileSyntaxError, match=error):
        parse_volfile(text)
