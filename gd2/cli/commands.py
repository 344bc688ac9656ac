"""From command words to one API call and the way to print its answer.

The table is explicit: every command gd2ctl knows is in :func:`plan`, and
each maps to exactly one REST request (DESIGN.md §4).
"""

from __future__ import annotations

import gd2
from gd2.api import routes
from gd2.cli import events, render
from gd2.cli import plugins as plugin_commands
from gd2.cli.errors import UsageError
from gd2.cli.volume_args import parse_create

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

COMMANDS = (
    ("volume create NAME [replica N [arbiter 1]] [disperse N] [redundancy R] HOST:PATH... [force]",
     "create a volume from bricks"),
    ("volume delete NAME", "delete a volume (no confirmation)"),
    ("volume start NAME [force]", "start a volume's bricks (force: restart the ones that are down)"),
    ("volume stop NAME [force]", "stop a volume's bricks and self-heal daemon"),
    ("volume status [NAME]", "bricks and daemons of a volume: online, port, pid"),
    ("volume set NAME KEY VALUE", "set a volume option (glusterd1 names, e.g. performance.write-behind)"),
    ("volume get NAME KEY|all", "show volume options and their defaults"),
    ("volume reset NAME KEY|all", "return options to their defaults"),
    ("volume info [NAME|all]", "show one or all volumes"),
    ("volume list", "list the names of all volumes"),
    ("peer add HOST[:PORT]", "add an empty node to the pool (PORT: its join port, default 24010)"),
    ("peer remove ID|NAME|HOST [force]", "remove a node (force: even while it is offline)"),
    ("peer list", "list the peers of the pool (also: pool list)"),
    *events.COMMANDS,
    ("debug store [PREFIX]", "show the decoded store entries under PREFIX"),
    *plugin_commands.COMMANDS,
    ("version", "show the versions of gd2ctl and glusterd2"),
    ("help", "show this help"),
)


class Call:
    """One request to make, and how to turn its JSON answer into text."""

    __slots__ = ("body", "exit_status", "method", "path", "preface", "render", "stream")

    def __init__(self, method: str, path: str, render: Callable[[Any], str], *,
                 body: dict[str, object] | None = None, preface: str = "",
                 exit_status: Callable[[Any], int] | None = None, stream: bool = False) -> None:
        self.method = method
        self.path = path
        self.render = render
        self.body = body
        self.preface = preface  # printed before the request is made (text mode only)
        self.exit_status = exit_status  # non-zero for a partial success (e.g. a brick failed to start)
        self.stream = stream  # a streaming response (events watch): gd2.cli.events.watch prints it


def quote(text: str, safe: str = "") -> str:
    """Percent-encode ``text`` for a URL path segment or query value."""
    keep = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" + safe
    return "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def plan(words: list[str]) -> Call:
    """The call for ``words`` (the command line without global options); raise UsageError."""
    noun, rest = words[0], words[1:]
    if noun == "volume":
        return _volume(rest)
    if noun in ("peer", "pool"):
        if rest == ["list"]:
            return Call("GET", routes.PEERS, lambda data: render.peer_table(data.get("peers") or []))
        if rest[:1] == ["add"] and len(rest) == 2:
            host, _, port = rest[1].rpartition(":") if rest[1].count(":") == 1 else (rest[1], "", "")
            if port and not port.isdigit():
                raise UsageError(f"peer add: {rest[1]!r} is not HOST or HOST:PORT")
            body: dict[str, object] = {"host": host or rest[1], **({"port": int(port)} if port else {})}
            return Call("POST", routes.PEERS, lambda data: f"peer add: success: {data.get('name')} "
                        f"({data.get('id')}) joined the pool\n", body=body)
        if rest[:1] == ["remove"] and len(rest) in (2, 3):
            if len(rest) == 3 and rest[2] != "force":
                raise UsageError(f"peer remove: unexpected {rest[2]!r} (only 'force' may follow)")
            force = "?force=true" if len(rest) == 3 else ""
            return Call("DELETE", f"{routes.PEERS}/{quote(rest[1])}{force}",
                        lambda data: "peer remove: success\n")
        raise _unknown(noun, rest)
    if noun == "events":
        return events.plan(rest, Call, quote)
    if noun == "debug":
        if rest[:1] == ["store"] and len(rest) <= 2:
            prefix = rest[1] if len(rest) == 2 else ""
            path = f"{routes.DEBUG_STORE}?prefix={quote(prefix, '/')}" if prefix else routes.DEBUG_STORE
            return Call("GET", path, lambda data: render.store_dump(data.get("entries") or [], prefix))
        raise _unknown(noun, rest)
    if noun in ("plugin", "bitrot"):
        method, path, shown = plugin_commands.plan(noun, rest)
        return Call(method, path, shown)
    if noun == "version":
        _no_more(rest, "version")
        return Call("GET", routes.VERSION, render.daemon_version, preface=f"gd2ctl {gd2.__version__}\n")
    raise UsageError(f"unknown command {noun!r}")


def _volume(words: list[str]) -> Call:
    verb, rest = (words[0], words[1:]) if words else ("", [])
    if verb == "create":
        body = parse_create(rest)
        return Call("POST", routes.VOLUMES, lambda data: (
            f"volume create: {data.get('name', body['name'])}: success: please start the volume to access data\n"),
            body=body)
    if verb == "delete":
        name = _one_name(rest, "volume delete NAME")
        return Call("DELETE", routes.volume(quote(name)), lambda _: f"volume delete: {name}: success\n")
    if verb in ("start", "stop"):
        force = bool(rest) and rest[-1] == "force"
        name = _one_name(rest[:-1] if force else rest, f"volume {verb} NAME [force]")
        if verb == "start":
            return Call("POST", routes.volume_start(quote(name)), lambda data: render.volume_started(name, data),
                        body={"force": force}, exit_status=render.start_exit_status)
        return Call("POST", routes.volume_stop(quote(name)), lambda _: f"volume stop: {name}: success\n",
                    body={"force": force})
    if verb == "status":
        name = _one_name(rest, "volume status NAME")
        return Call("GET", routes.volume_status(quote(name)), render.volume_status)
    if verb == "set":
        if len(rest) != 3:
            raise UsageError("usage: volume set NAME KEY VALUE")
        name, key, value = rest
        return Call("POST", routes.volume_options(quote(name)), lambda _: f"volume set: {name}: success\n",
                    body={"options": {key: value}})
    if verb == "get":
        if len(rest) != 2:
            raise UsageError("usage: volume get NAME KEY|all")
        name, key = rest
        path = routes.volume_options(quote(name)) + ("" if key == "all" else f"?key={quote(key)}")
        return Call("GET", path, render.volume_options)
    if verb == "reset":
        if len(rest) != 2:
            raise UsageError("usage: volume reset NAME KEY|all")
        name, key = rest
        which: dict[str, object] = {"all": True} if key == "all" else {"keys": [key]}
        return Call("POST", routes.volume_options_reset(quote(name)),
                    lambda _: f"volume reset: {name}: success\n", body=which)
    if verb == "info":
        if len(rest) > 1:
            raise UsageError("too many arguments; usage: volume info [NAME|all]")
        if not rest or rest[0] == "all":
            return Call("GET", routes.VOLUMES, lambda data: render.volume_info(data.get("volumes") or []))
        return Call("GET", routes.volume(quote(rest[0])), lambda data: render.volume_info([data]))
    if verb == "list":
        _no_more(rest, "volume list")
        return Call("GET", routes.VOLUMES, lambda data: render.volume_list(data.get("volumes") or []))
    raise _unknown("volume", words)


def _one_name(words: list[str], usage: str) -> str:
    if len(words) != 1:
        raise UsageError(f"{'missing volume name' if not words else 'too many arguments'}; usage: {usage}")
    return words[0]


def _no_more(words: list[str], command: str) -> None:
    if words:
        raise UsageError(f"unexpected argument {words[0]!r} after {command!r}")


def _unknown(noun: str, words: list[str]) -> UsageError:
    if not words:
        return UsageError(f"missing subcommand after {noun!r}")
    return UsageError(f"unknown command '{noun} {words[0]}'")
