"""``gd2ctl events ...``: recent events, the live stream, webhooks.

Import-light like the rest of gd2ctl (json and gd2.api.routes only).
``events watch`` is the one gd2ctl command that does not make a single
request and exit: it reads ``GET /v1/events/stream`` (newline-delimited
JSON) and prints each event as it arrives, until Ctrl-C or until glusterd2
stops.
"""

from __future__ import annotations

import json
import sys

from gd2.api import routes
from gd2.cli import http
from gd2.cli.errors import CommandFailed, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    CallT = TypeVar("CallT")

COMMANDS = (
    ("events list [--since ID] [--limit N]", "recent events of the pool, oldest first (default: the last 100)"),
    ("events watch [--since ID]", "print events as they happen until Ctrl-C (--json: one JSON object a line)"),
    ("events webhook-add URL [--secret S]", "POST every event as JSON to URL, signed with S if given"),
    ("events webhook-list", "webhooks, and the last event each was sent"),
    ("events webhook-delete URL|ID", "stop sending events to a webhook"),
)

# Options of these commands that take a value (gd2ctl's parser passes them through as words).
VALUED_OPTIONS = ("--since", "--limit", "--secret")

IDLE_TIMEOUT = 60.0  # the stream sends an empty line every 15 s; silence for this long means it is gone


def _options(words: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Split ``words`` into positional words and ``--option value`` pairs."""
    positional: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        name, eq, value = word.partition("=")
        if name in VALUED_OPTIONS:
            if name not in allowed:
                raise UsageError(f"option {name} does not apply here")
            if not eq:
                if index + 1 >= len(words):
                    raise UsageError(f"option {name} needs a value")
                index += 1
                value = words[index]
            options[name] = value
        else:
            positional.append(word)
        index += 1
    return positional, options


def event_line(event: dict[str, Any]) -> str:
    """One event as one line of text: time, kind, node, message."""
    node = event.get("node") or {}
    message = event.get("message") or ""
    if not message:
        subject = [f"{k}={event[k]}" for k in ("volume", "brick", "peer", "plugin") if event.get(k)]
        message = " ".join(subject)
    return f"{event.get('time', '')}  {event.get('kind', ''):<16} {node.get('name') or '-':<16} {message}"


def _event_list(data: dict[str, Any]) -> str:
    events = data.get("events") or []
    if not events:
        return "No events.\n"
    return "".join(event_line(e) + "\n" for e in events)


def _webhook_list(data: dict[str, Any]) -> str:
    hooks = data.get("webhooks") or []
    if not hooks:
        return "No webhooks.\n"
    lines = [f"{'ID':<12}  {'SECRET':<6}  {'LAST DELIVERED':<34}  URL"]
    for hook in hooks:
        lines.append(f"{hook.get('id', ''):<12}  {'yes' if hook.get('has_secret') else 'no':<6}  "
                     f"{hook.get('delivered') or '-':<34}  {hook.get('url', '')}")
        if hook.get("last_error"):
            since = f" (since {hook['pending_since']})" if hook.get("pending_since") else ""
            lines.append(f"{'':<12}  failing{since}: {hook['last_error']}")
    return "\n".join(lines) + "\n"


def plan(words: list[str], call: Callable[..., CallT], quote: Callable[[str], str]) -> CallT:
    """The call for ``events ...`` (``call`` is gd2.cli.commands.Call)."""
    verb, rest = (words[0], words[1:]) if words else ("", [])
    if verb == "list":
        positional, options = _options(rest, ("--since", "--limit"))
        if positional:
            raise UsageError(f"unexpected argument {positional[0]!r}; usage: events list [--since ID] [--limit N]")
        query = []
        if "--since" in options:
            query.append(f"since={quote(options['--since'])}")
        if "--limit" in options:
            if not options["--limit"].isdigit() or int(options["--limit"]) < 1:
                raise UsageError(f"--limit must be a positive whole number, not {options['--limit']!r}")
            query.append(f"limit={options['--limit']}")
        path = routes.EVENTS + ("?" + "&".join(query) if query else "")
        return call("GET", path, _event_list)
    if verb == "watch":
        positional, options = _options(rest, ("--since",))
        if positional:
            raise UsageError(f"unexpected argument {positional[0]!r}; usage: events watch [--since ID]")
        since = options.get("--since")
        path = routes.EVENTS_STREAM + (f"?since={quote(since)}" if since else "")
        return call("GET", path, _event_list, stream=True)
    if verb == "webhook-add":
        positional, options = _options(rest, ("--secret",))
        if len(positional) != 1:
            raise UsageError("usage: events webhook-add URL [--secret S]")
        body: dict[str, object] = {"url": positional[0]}
        if "--secret" in options:
            body["secret"] = options["--secret"]
        return call("POST", routes.WEBHOOKS, lambda data: (
            f"events webhook-add: success: {data.get('url')} (id {data.get('id')})\n"), body=body)
    if verb == "webhook-list":
        if rest:
            raise UsageError(f"unexpected argument {rest[0]!r} after 'events webhook-list'")
        return call("GET", routes.WEBHOOKS, _webhook_list)
    if verb == "webhook-delete":
        positional, _ = _options(rest, ())
        if len(positional) != 1:
            raise UsageError("usage: events webhook-delete URL|ID")
        return call("DELETE", routes.webhook(quote(positional[0])),
                    lambda _: f"events webhook-delete: {positional[0]}: success\n")
    if not verb:
        raise UsageError("missing subcommand after 'events'")
    raise UsageError(f"unknown command 'events {verb}'")


def watch(endpoint: http.Endpoint, path: str, headers: list[tuple[str, str]], *, as_json: bool, timeout: float,
          error_message: Callable[[http.Response], str]) -> int:
    """Print the stream's events until Ctrl-C (run() handles it) or until glusterd2 stops (exit 1).

    A stream that glusterd2 ends while it restarts in-process (a join, leave or etcd promotion)
    is opened again from the last event printed, so nothing is missed or printed twice.
    """
    from urllib.parse import quote

    last_id: str | None = None
    reopening = False
    quiet_reopens = 0  # streams that ended without a single line: glusterd2 is not coming back
    while True:
        try:
            stream = http.open_stream(endpoint, "GET", path, headers=headers, timeout=timeout, idle=IDLE_TIMEOUT)
        except http.TransportError as exc:
            if reopening:
                break
            where = "cannot reach" if not exc.sent else "request to"
            raise CommandFailed(f"{where} glusterd2 at {endpoint}: {exc.reason}") from None
        lines = 0
        try:
            if not 200 <= stream.status < 300:
                body = stream.read_all()
                message = error_message(http.Response(stream.status, stream.reason, stream.headers, body))
                if reopening:
                    raise CommandFailed(f"glusterd2 ended the event stream and did not take it up again: {message}")
                raise CommandFailed(message)
            for line in stream.lines():
                lines += 1
                if not line.strip():
                    continue  # a heartbeat
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and isinstance(event.get("id"), str):
                    last_id = event["id"]
                sys.stdout.write(line.decode("utf-8", "replace") + "\n" if as_json else event_line(event) + "\n")
                sys.stdout.flush()
        except http.TransportError as exc:
            raise CommandFailed(f"event stream from glusterd2 at {endpoint} broke: {exc.reason}") from None
        finally:
            stream.close()
        reopening = True
        quiet_reopens = 0 if lines else quiet_reopens + 1
        if quiet_reopens > 3:
            break
        if last_id is not None:
            path = f"{routes.EVENTS_STREAM}?since={quote(last_id)}"
    raise CommandFailed("glusterd2 ended the event stream (it is stopping)")
