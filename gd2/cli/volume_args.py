"""The grammar of ``volume create``, as the gluster CLI has it.

``volume create NAME [replica N [arbiter 1]] [disperse N] [redundancy R]
[transport tcp] HOST:PATH... [force]``: keywords first, each with one value,
then the bricks, then an optional trailing ``force``. Counts are checked by
the daemon; only the shape is checked here, so nothing malformed is sent.
"""

from __future__ import annotations

from gd2.cli.errors import UsageError

CREATE_USAGE = ("volume create NAME [replica N [arbiter 1]] [disperse N] [redundancy R] "
                "HOST:PATH... [force]")

_COUNT_KEYWORDS = ("replica", "arbiter", "disperse", "redundancy")


def parse_create(words: list[str]) -> dict[str, object]:
    """The ``POST /v1/volumes`` body for the words after ``volume create``."""
    if not words:
        raise UsageError(f"missing volume name; usage: {CREATE_USAGE}")
    name, rest = words[0], list(words[1:])
    if name in _COUNT_KEYWORDS or ":" in name:
        raise UsageError(f"missing volume name before {name!r}; usage: {CREATE_USAGE}")
    body: dict[str, object] = {"name": name}
    seen: set[str] = set()
    while rest and rest[0] in (*_COUNT_KEYWORDS, "transport"):
        keyword = rest.pop(0)
        if keyword in seen:
            raise UsageError(f"{keyword!r} is given twice")
        seen.add(keyword)
        if not rest:
            raise UsageError(f"{keyword!r} needs a value; usage: {CREATE_USAGE}")
        value = rest.pop(0)
        if keyword == "transport":
            if value != "tcp":
                raise UsageError(f"transport {value!r} is not supported (only tcp)")
            continue
        if not (value.isascii() and value.isdigit()):
            raise UsageError(f"{keyword} count must be a number, not {value!r}")
        if keyword == "arbiter" and "replica" not in body:
            raise UsageError("'arbiter' must follow 'replica N' (e.g. replica 3 arbiter 1)")
        body[keyword] = int(value)
    if rest and rest[-1] == "force":
        rest.pop()
        body["force"] = True
    if not rest:
        raise UsageError(f"no bricks given; usage: {CREATE_USAGE}")
    for brick in rest:
        if brick in _COUNT_KEYWORDS or brick in ("transport", "force"):
            raise UsageError(f"{brick!r} must come before the bricks; usage: {CREATE_USAGE}")
        host, sep, path = brick.partition(":")
        if not sep or not host or not path.startswith("/"):
            raise UsageError(f"wrong brick {brick!r}: use HOST:/absolute/path")
    body["bricks"] = rest
    return body
