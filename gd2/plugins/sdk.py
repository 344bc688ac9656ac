"""A small SDK for glusterd2 plugins written in Python (docs/plugins.md).

A plugin is its own executable; it imports this module (and nothing else of
glusterd2), declares what it is and contributes, and calls :func:`serve`::

    plugin = Plugin("hello", "1.0.0", "says hello")

    @plugin.route("GET", "/greeting/{who}")
    def greeting(request: Request) -> object:
        return {"hello": request.params["who"]}

    if __name__ == "__main__":
        sys.exit(serve(plugin))

Handlers run in grpc's worker threads (plain threads: no trio here).  Their
exceptions are reported to glusterd2 as errors and printed on stderr, which
glusterd2 logs with the plugin's name.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs

from gd2.plugins.handshake import (
    COOKIE_KEY,
    COOKIE_VALUE,
    PROBE_KEY,
    SOCKET_DIR_KEY,
    VERSIONS_KEY,
    Dependency,
    Probe,
    choose_protocol,
    format_handshake,
    probe_line,
)
from gd2.plugins.model import (
    DaemonFile,
    Description,
    Event,
    HostInfo,
    HttpAnswer,
    HttpCall,
    OptionSpec,
    PluginDaemon,
    Route,
    XlatorRule,
)

__all__ = [
    "DaemonFile", "Dependency", "Event", "HostInfo", "HttpAnswer", "Plugin", "PluginDaemon", "PluginError",
    "Request", "call_glusterd2", "serve",
]

PROTOCOLS = (1,)  # plugin protocol versions this SDK speaks


class PluginError(Exception):
    """Raise from a REST handler to answer with glusterd2's error shape."""

    def __init__(self, status: int, message: str, code: str = "invalid", fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.fields = status, message, code, dict(fields or {})

    def answer(self) -> HttpAnswer:
        body = {"error": {"code": self.code, "message": self.message, "fields": self.fields}}
        return HttpAnswer(self.status, json.dumps(body).encode())


@dataclass(frozen=True)
class Request:
    """A REST request forwarded by glusterd2 (path below /v1/plugins/<name>)."""

    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: bytes
    request_id: str
    plugin: Plugin

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise PluginError(422, f"the body is not JSON: {exc}") from None


Handler = Callable[[Request], Any]
Setup = Callable[[HostInfo, dict[str, Any]], None]


@dataclass
class _Route:
    route: Route
    pattern: re.Pattern[str]
    handler: Handler


def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-zA-Z_][a-zA-Z0-9_]*\})", path)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}/?$")


@dataclass
class Plugin:
    """What a plugin is and contributes, and its handlers."""

    name: str
    version: str
    description: str = ""
    depends: Sequence[Dependency] = ()
    host: HostInfo = field(default_factory=HostInfo)
    config: dict[str, Any] = field(default_factory=dict)
    _xlators: list[XlatorRule] = field(default_factory=list)
    _options: list[OptionSpec] = field(default_factory=list)
    _routes: list[_Route] = field(default_factory=list)
    _daemons: Callable[[dict[str, Any], HostInfo], list[PluginDaemon]] | None = None
    _events: dict[str, list[Callable[[Event], None]]] = field(default_factory=dict)
    _setup: list[Setup] = field(default_factory=list)
    _health: Callable[[], tuple[bool, str]] | None = None
    _described: threading.Event = field(default_factory=threading.Event)

    # ---- declarations ----------------------------------------------------------------------------

    def xlator(self, graph: str, type_: str, *, after: str = "", options: Mapping[str, str] | None = None,
               when: str = "", name: str = "") -> None:
        """Make sure ``type_`` is in ``graph`` ("brick"/"client") when boolean option ``when`` is on."""
        self._xlators.append(XlatorRule(graph, type_, name, after, dict(options or {}), when))

    def option(self, key: str, kind: str = "string", default: str | None = None, choices: Sequence[str] = (),
               description: str = "") -> None:
        """A volume option key this plugin owns (``kind``: bool, int, enum, string)."""
        self._options.append(OptionSpec(key, kind, default, tuple(choices), description))

    def route(self, method: str, path: str, summary: str = "") -> Callable[[Handler], Handler]:
        """A REST command under /v1/plugins/<name>; ``{param}`` segments land in ``request.params``."""
        def register(handler: Handler) -> Handler:
            self._routes.append(_Route(Route(method.upper(), path, summary), _pattern(path), handler))
            return handler
        return register

    def daemons(self, handler: Callable[[dict[str, Any], HostInfo], list[PluginDaemon]]
                ) -> Callable[[dict[str, Any], HostInfo], list[PluginDaemon]]:
        """The daemons to run on this node for a started volume (its record as a dict)."""
        self._daemons = handler
        return handler

    def on_event(self, *types: str) -> Callable[[Callable[[Event], None]], Callable[[Event], None]]:
        """Call the handler for each event of ``types`` ("*": all) glusterd2 streams."""
        def register(handler: Callable[[Event], None]) -> Callable[[Event], None]:
            for type_ in types or ("*",):
                self._events.setdefault(type_, []).append(handler)
            return handler
        return register

    def on_setup(self, handler: Setup) -> Setup:
        """Called with glusterd2's host info and this plugin's configuration, before the first answer."""
        self._setup.append(handler)
        return handler

    def on_health(self, handler: Callable[[], tuple[bool, str]]) -> Callable[[], tuple[bool, str]]:
        self._health = handler
        return handler

    # ---- what glusterd2 calls --------------------------------------------------------------------

    def probe(self) -> Probe:
        return Probe(self.name, self.version, PROTOCOLS, tuple(self.depends), self.description)

    def describe(self, host: HostInfo) -> Description:
        self.host = host
        try:
            config = json.loads(host.config_json or "{}")
        except ValueError:
            config = {}
        self.config = config if isinstance(config, dict) else {}
        if not self._described.is_set():
            for setup in self._setup:
                setup(host, self.config)
            self._described.set()
        return Description(self.name, self.version, self.description, tuple(self.depends), tuple(self._xlators),
                           tuple(self._options), tuple(r.route for r in self._routes), self._daemons is not None,
                           tuple(self._events))

    def health(self) -> tuple[bool, str]:
        return self._health() if self._health else (True, "")

    def handle(self, call: HttpCall) -> HttpAnswer:
        for route in self._routes:
            match = route.pattern.match(call.path)
            if match and route.route.method == call.method.upper():
                request = Request(call.method.upper(), call.path, match.groupdict(), parse_qs(call.query),
                                  call.body, call.request_id, self)
                try:
                    result = route.handler(request)
                except PluginError as exc:
                    return exc.answer()
                except Exception as exc:
                    traceback.print_exc()
                    return PluginError(500, f"plugin {self.name}: {type(exc).__name__}: {exc}", "internal").answer()
                if isinstance(result, HttpAnswer):
                    return result
                return HttpAnswer(200, json.dumps(result).encode())
        return PluginError(404, f"plugin {self.name} has no {call.method} {call.path}", "not_found").answer()

    def daemons_for(self, volume_json: str) -> list[PluginDaemon]:
        if self._daemons is None:
            return []
        return self._daemons(json.loads(volume_json), self.host)

    def deliver(self, event: Event) -> None:
        for handler in [*self._events.get(event.type, ()), *self._events.get("*", ())]:
            try:
                handler(event)
            except Exception:
                traceback.print_exc()


# ---- calls back into glusterd2 -------------------------------------------------------------------

def call_glusterd2(socket_path: str, method: str, path: str, body: Any = None, timeout: float = 30.0
                   ) -> tuple[int, Any]:
    """One HTTP/1.1 request to glusterd2's REST API on its Unix socket; (status, JSON or None)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: gd2\r\nConnection: close\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(head + data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    header, _, payload = reply.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        out = b""
        while payload:
            size_line, _, rest = payload.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, payload = out + rest[:size], rest[size + 2:]
        payload = out
    return status, (json.loads(payload) if payload.strip() else None)


# ---- serving -------------------------------------------------------------------------------------

def _handlers(plugin: Plugin) -> Any:
    import grpc  # only when serving: a probe or a run by hand stays quick

    from gd2.plugins import wire

    def unary(fn: Callable[[bytes], bytes]) -> Any:
        def handle(data: bytes, context: Any) -> bytes:
            try:
                return fn(data)
            except Exception as exc:
                traceback.print_exc()
                context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
                raise  # not reached
        return grpc.unary_unary_rpc_method_handler(handle)

    def events(requests: Iterator[bytes], context: Any) -> bytes:
        received = 0
        for data in requests:
            plugin.deliver(wire.decode_event(data))
            received += 1
        return wire.encode_events_reply(received)

    methods = {
        wire.DESCRIBE: unary(lambda d: wire.encode_description(plugin.describe(wire.decode_describe_request(d)))),
        wire.HEALTH: unary(lambda d: wire.encode_health(*plugin.health())),
        wire.DAEMONS: unary(lambda d: wire.encode_daemons(plugin.daemons_for(wire.decode_daemons_request(d)))),
        wire.HANDLE_REQUEST: unary(lambda d: wire.encode_http_answer(plugin.handle(wire.decode_http_call(d)))),
        wire.EVENTS: grpc.stream_unary_rpc_method_handler(events),
    }
    return grpc.method_handlers_generic_handler(wire.SERVICE, methods)


def explain(plugin: Plugin) -> str:
    """What a plugin run by hand prints."""
    lines = [f"{plugin.name} {plugin.version}: a glusterd2 plugin (plugin protocol "
             f"{', '.join(str(v) for v in PROTOCOLS)})"]
    if plugin.description:
        lines.append(f"  {plugin.description}")
    if plugin.depends:
        lines.append(f"  needs: {', '.join(str(d) for d in plugin.depends)}")
    lines.append("This program is started by glusterd2; put it in glusterd2's plugin-dir (see docs/plugins.md).")
    return "\n".join(lines) + "\n"


def serve(plugin: Plugin, environ: Mapping[str, str] | None = None, stdout: TextIO | None = None) -> int:
    """Run the plugin as glusterd2 expects (or explain itself); returns the exit status."""
    env = os.environ if environ is None else environ
    out = stdout or sys.stdout
    if env.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write(explain(plugin))
        return 1
    if env.get(PROBE_KEY):
        out.write(probe_line(plugin.probe()) + "\n")
        out.flush()
        return 0
    protocol = choose_protocol(env, PROTOCOLS)
    if protocol is None:
        sys.stderr.write(f"{plugin.name}: glusterd2 offers plugin protocol {env.get(VERSIONS_KEY, '')!r}; "
                         f"this plugin speaks {', '.join(str(v) for v in PROTOCOLS)}\n")
        return 1
    import grpc

    socket_dir = Path(env.get(SOCKET_DIR_KEY) or f"/tmp/gd2-plugin-{os.getpid()}")
    socket_dir.mkdir(parents=True, exist_ok=True)
    path = socket_dir / f"{plugin.name}.sock"
    path.unlink(missing_ok=True)
    server = grpc.server(ThreadPoolExecutor(max_workers=8, thread_name_prefix=plugin.name))
    server.add_generic_rpc_handlers((_handlers(plugin),))
    server.add_insecure_port(f"unix:{path}")
    server.start()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:  # end of file: glusterd2 is gone (even after kill -9)
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    out.write(format_handshake(protocol, str(path)) + "\n")
    out.flush()
    while not stop.wait(0.5):
        pass
    server.stop(1).wait(3)
    path.unlink(missing_ok=True)
    return 0
