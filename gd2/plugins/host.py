"""The plugin host: discovery, supervision, contributions, REST forwarding and events.

Plugins are found in ``plugin-dir`` and probed (gd2.plugins.manifest decides
which may run); each runnable one is a DaemonSpec (``plugin <name>``,
``depends_on`` its dependencies) under a Supervisor of its own, on
gd2.plugins.backend, with the same planner as bricks: dependency order,
backoff, crash loops marked failed.  The supervisor's readiness hook connects
and asks Describe.  What a plugin contributes is kept as plain data
(gd2.volgen.ExtraXlator, gd2.volgen.VolumeOption) for volgen and the option
validator, and stays while the plugin restarts or after it failed, so a crash
never silently changes volfiles.  docs/plugins.md has the whole contract.
"""

from __future__ import annotations

import json
import os
import re
import string
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog
import trio

from gd2.api.plugins import PluginContributions, PluginInfo, PluginList, PluginRoute
from gd2.daemons.base import DaemonSpec
from gd2.daemons.planner import Policy
from gd2.daemons.supervisor import Supervisor
from gd2.errors import GD2Error, NotFound, Unavailable
from gd2.plugins.backend import PluginBackend
from gd2.plugins.client import PluginClient
from gd2.plugins.handshake import PROTOCOL_VERSIONS, HostEnv, PluginRefused, Probe, parse_probe
from gd2.plugins.manifest import Verdict, judge
from gd2.plugins.model import Description, Event, HostInfo, HttpAnswer, HttpCall, PluginDaemon
from gd2.volgen import ExtraXlator, GraphKind, ValueKind, VolumeOption, lookup

log = structlog.get_logger("gd2.plugins")

SPEC_PREFIX = "plugin "
PLUGIN_POLICY = Policy(backoff_initial=0.25, backoff_max=10.0, max_deaths=5, window=60.0)
_SKIP_SUFFIXES = ("~", ".toml", ".json", ".md", ".txt", ".sock", ".log")
_KINDS = {"bool": ValueKind.BOOL, "int": ValueKind.INT, "enum": ValueKind.ENUM, "string": ValueKind.STRING}
# The fields volgen fills in templates (gd2.volgen.build.Context.fields), per graph.
_FIELDS = {"volume", "volume_id", "username", "password", "transport", "client_transport", "send_gids",
           "arbiter_count", "redundancy", "workdir", "shared_brick_count", "bind_address", "leaf"}
_BRICK_FIELDS = _FIELDS | {"brick_path", "brick_host"}


def plugin_of(spec: DaemonSpec) -> str:
    return spec.name.removeprefix(SPEC_PREFIX)


def _template_fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def check_description(desc: Description) -> list[str]:
    """Problems with what a plugin contributes (each is reported and the item left out)."""
    problems = []
    for rule in desc.xlators:
        known = _BRICK_FIELDS if rule.graph == "brick" else _FIELDS
        if rule.graph not in ("brick", "client"):
            problems.append(f"xlator {rule.type}: graph {rule.graph!r} is not brick or client")
        elif "/" not in rule.type:
            problems.append(f"xlator {rule.type!r}: not a CATEGORY/NAME type")
        else:
            try:
                used = set().union(*(_template_fields(t) for t in (rule.name, *rule.options, *rule.options.values())))
            except ValueError as exc:
                problems.append(f"xlator {rule.type}: bad template: {exc}")
                continue
            if used - known:
                problems.append(f"xlator {rule.type}: unknown template fields {sorted(used - known)}")
    for option in desc.options:
        if option.kind not in _KINDS:
            problems.append(f"option {option.key}: kind {option.kind!r} is not bool, int, enum or string")
    return problems


@dataclass
class _Plugin:
    verdict: Verdict
    description: Description | None = None  # the last Describe answer (kept while it restarts)
    client: PluginClient | None = None  # set while it runs and answered Describe
    announced: str = ""  # the last state an event was sent for
    events: trio.MemorySendChannel[Event] | None = None
    health_failures: int = 0


class PluginHost:
    def __init__(self, *, plugin_dir: Path, settings: Mapping[str, Mapping[str, Any]], host: HostInfo,
                 socket_dir: Path, statedir: Path, logdir: Path, start_timeout: float, stop_grace: float,
                 call_timeout: float, policy: Policy = PLUGIN_POLICY, health_interval: float = 5.0,
                 offered: Sequence[int] = PROTOCOL_VERSIONS) -> None:
        self.plugin_dir = plugin_dir
        self._settings = settings
        self._host = host
        self._socket_dir = socket_dir
        self._statedir = statedir
        self._logdir = logdir
        self._start_timeout = start_timeout
        self._call_timeout = call_timeout
        self._health_interval = health_interval
        self._offered = tuple(offered)
        self._plugins: dict[str, _Plugin] = {}
        self._generation = 0
        self._listeners: list[Callable[[], Awaitable[None]]] = []
        self._event_listeners: list[Callable[[Event], None]] = []
        self._nursery: trio.Nursery | None = None
        self._backend = PluginBackend(plugin_of=plugin_of, start_timeout=start_timeout, offered=offered,
                                      on_exit=self._exited)
        self.supervisor = Supervisor(self._backend, policy, ready=self._connect, ready_timeout=start_timeout,
                                     stop_grace=stop_grace, poll_interval=0.5)
        self._event_seq = 0

    # ---- what the rest of glusterd2 asks ---------------------------------------------------------

    def on_change(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call ``listener`` when contributions change (glusterd2 sends FETCHSPEC then)."""
        self._listeners.append(listener)

    def on_event(self, listener: Callable[[Event], None]) -> None:
        """Be told of the host's own events (plugin-started, plugin-failed...); with a listener, the host
        no longer hands them to plugins itself (the listener's stream does)."""
        self._event_listeners.append(listener)

    def _active(self) -> list[tuple[str, Description]]:
        return [(name, p.description) for name, p in sorted(self._plugins.items())
                if p.description is not None and p.verdict.state == "runnable"]

    def volgen_rules(self) -> tuple[int, tuple[ExtraXlator, ...]]:
        """(generation, rules) for gd2.volgen: the generation changes whenever the rules may have."""
        rules = []
        for name, desc in self._active():
            for rule in desc.xlators:
                graph = GraphKind.BRICK if rule.graph == "brick" else GraphKind.CLIENT
                rules.append(ExtraXlator(graph, rule.type, rule.after or None, dict(rule.options),
                                         rule.when_option or None, rule.name or "{volume}-{leaf}", name))
        return self._generation, tuple(rules)

    def option(self, key: str) -> VolumeOption | None:
        """A volume option a plugin owns (the core catalogue comes first)."""
        for name, desc in self._active():
            for spec in desc.options:
                if spec.key == key:
                    return VolumeOption(spec.key, (), spec.default, _KINDS.get(spec.kind, ValueKind.STRING),
                                        spec.choices, f"{spec.description} (plugin {name})".strip())
        return None

    def option_keys(self) -> tuple[str, ...]:
        return tuple(spec.key for _, desc in self._active() for spec in desc.options)

    def with_daemons(self) -> list[str]:
        """Plugins that run daemons for volumes and are connected now."""
        return [name for name, p in sorted(self._plugins.items())
                if p.description is not None and p.description.daemons and p.client is not None]

    def known_daemon_plugins(self) -> set[str]:
        """Plugins that have ever said they run daemons (their daemons are kept while they restart)."""
        return {name for name, desc in self._active() if desc.daemons}

    async def daemons(self, name: str, volume_json: str) -> list[PluginDaemon]:
        client = self._plugins[name].client
        if client is None:
            raise Unavailable(f"plugin {name} is not running", {"plugin": name})
        return await client.daemons(volume_json)

    def plugin_statedir(self, name: str) -> Path:
        return self._statedir / name

    def listing(self) -> PluginList:
        return PluginList(plugin_dir=str(self.plugin_dir),
                          plugins=[self._info(name, p) for name, p in sorted(self._plugins.items())])

    def state(self, name: str) -> tuple[str, str | None]:
        p = self._plugins[name]
        if p.verdict.state != "runnable":
            return p.verdict.state, p.verdict.reason
        status = self.supervisor.status(SPEC_PREFIX + name)
        refused = self._backend.refused.get(SPEC_PREFIX + name)
        if refused:
            return "refused", refused
        if status.failed:
            return "failed", status.failed
        if status.running and p.client is not None:
            return "running", None
        if status.restarts or status.last_error:
            return "restarting", status.last_error
        return "starting", status.last_error

    def _info(self, name: str, p: _Plugin) -> PluginInfo:
        state, error = self.state(name)
        status = self.supervisor.status(SPEC_PREFIX + name)
        desc = p.description
        contributes = PluginContributions()
        if desc is not None:
            contributes = PluginContributions(
                xlators=[f"{x.graph}:{x.type}" + (f" when {x.when_option}" if x.when_option else "")
                         for x in desc.xlators],
                options=[o.key for o in desc.options],
                routes=[PluginRoute(method=r.method, path=r.path, summary=r.summary) for r in desc.routes],
                daemons=desc.daemons, events=list(desc.events))
        return PluginInfo(name=name, version=p.verdict.probe.version, state=state, restarts=status.restarts,
                          pid=status.pid if state == "running" else None, path=p.verdict.path,
                          depends=[str(d) for d in p.verdict.probe.depends],
                          description=p.verdict.probe.description, error=error, contributes=contributes)

    async def forward(self, name: str, call: HttpCall) -> HttpAnswer:
        """A REST request under /v1/plugins/<name>, answered by the plugin."""
        p = self._plugins.get(name)
        if p is None:
            raise NotFound(f"no plugin named {name} (see `gd2ctl plugin list`)", {"plugin": name})
        desc = p.description
        if desc is not None and not any(r.method == call.method and _route_matches(r.path, call.path)
                                        for r in desc.routes):
            raise NotFound(f"plugin {name} has no {call.method} {call.path}", {"plugin": name})
        state, error = self.state(name)
        if p.client is None or state != "running":
            raise Unavailable(f"plugin {name} is {state}" + (f": {error}" if error else ""), {"plugin": name})
        return await p.client.handle(call)

    def publish(self, event: Event) -> None:
        """Hand an event to every plugin subscribed to its type (never blocks: a full queue drops it)."""
        for name, p in self._plugins.items():
            if p.events is None or p.description is None:
                continue
            if "*" in p.description.events or event.type in p.description.events:
                try:
                    p.events.send_nowait(event)
                except trio.WouldBlock:
                    log.warning("plugin is not keeping up with events; dropped one", plugin=name, event=event.type)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass

    # ---- running ---------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Probe, start in dependency order, and supervise until cancelled (plugins are stopped then)."""
        found = await self._probe_all()
        disabled = frozenset(name for name, table in self._settings.items() if table.get("enable") is False)
        verdicts = judge(found, disabled, self._offered)
        self._plugins = {name: _Plugin(v) for name, v in verdicts.items()}
        for name, verdict in verdicts.items():
            if verdict.state == "refused":
                log.error("plugin refused", plugin=name, path=verdict.path, reason=verdict.reason)
            elif verdict.state == "disabled":
                log.info("plugin disabled", plugin=name)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._backend.run)
            await nursery.start(self.supervisor.run)
            specs = [self._spec(v) for v in verdicts.values() if v.state == "runnable"]
            with trio.move_on_after(self._start_timeout * (1 + len(specs))):
                await self.supervisor.ensure(specs)
            await self._check_states()
            nursery.start_soon(self._monitor)
            task_status.started()

    def _spec(self, verdict: Verdict) -> DaemonSpec:
        name = verdict.probe.name
        return DaemonSpec(  # its configuration goes in Describe's request, not the environment
            name=SPEC_PREFIX + name, argv=(verdict.path,), pidfile=self._socket_dir / f"{name}.pid",
            logfile=self._logdir / f"{name}.log", identity=verdict.path,
            env=HostEnv(self._offered, str(self._socket_dir)).environ(),
            runtime_dirs=(self._socket_dir,), depends_on=tuple(SPEC_PREFIX + d.name for d in verdict.probe.depends))

    def _executables(self) -> list[Path]:
        try:
            entries = sorted(self.plugin_dir.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("cannot read the plugin directory", plugin_dir=str(self.plugin_dir), error=str(exc))
            return []
        return [p for p in entries if p.is_file() and os.access(p, os.X_OK) and not p.name.startswith(".")
                and not p.name.endswith(_SKIP_SUFFIXES)]

    async def _probe_all(self) -> list[tuple[str, Probe]]:
        found: list[tuple[str, Probe]] = []

        async def probe(path: Path) -> None:
            env = {**os.environ, **HostEnv(self._offered, probe=True).environ()}
            try:
                with trio.fail_after(self._start_timeout):
                    result = await trio.run_process([str(path)], env=env, capture_stdout=True, capture_stderr=True,
                                                    check=False, stdin=b"")
            except (OSError, trio.TooSlowError) as exc:
                log.error("plugin probe failed", path=str(path), error=str(exc) or "timed out")
                return
            if result.returncode != 0:
                log.error("plugin probe failed", path=str(path), status=result.returncode,
                          stderr=result.stderr.decode(errors="replace")[-500:])
                return
            try:
                found.append((str(path), parse_probe(result.stdout.decode(errors="replace"), str(path))))
            except PluginRefused as exc:
                log.error("not a plugin", path=str(path), error=exc.message)

        async with trio.open_nursery() as nursery:
            for path in self._executables():
                nursery.start_soon(probe, path)
        return sorted(found)

    def _host_info(self, name: str) -> HostInfo:
        table = {k: v for k, v in self._settings.get(name, {}).items() if k != "enable"}
        return replace(self._host, plugin_statedir=str(self.plugin_statedir(name)), config_json=json.dumps(table))

    async def _connect(self, spec: DaemonSpec) -> None:
        """Readiness: the handshake was accepted; connect and ask Describe."""
        name = plugin_of(spec)
        shake = self._backend.handshake(spec.name)
        if shake is None:
            raise Unavailable(f"plugin {name} has no handshake")
        client = PluginClient(name, shake.address, self._call_timeout)
        self.plugin_statedir(name).mkdir(parents=True, exist_ok=True)
        try:
            desc = await client.describe(replace(self._host_info(name), protocol=shake.protocol))
        except GD2Error:
            client.close()
            raise
        if desc.name != name:
            client.close()
            raise PluginRefused(f"plugin {name} calls itself {desc.name} in Describe")
        for problem in check_description(desc):
            log.error("plugin contribution refused", plugin=name, problem=problem)
        desc = self._usable(name, desc)
        p = self._plugins[name]
        if p.client is not None:
            p.client.close()
        p.client, p.health_failures = client, 0
        if desc != p.description:
            p.description = desc
            self._generation += 1
            for listener in self._listeners:
                await listener()
        if desc.events and self._nursery is not None:
            send, receive = trio.open_memory_channel[Event](1000)
            p.events = send
            self._nursery.start_soon(self._stream_events, name, client, receive)

    def _usable(self, name: str, desc: Description) -> Description:
        bad = set(check_description(desc))
        xlators = tuple(x for x in desc.xlators if not any(p.startswith(f"xlator {x.type}") for p in bad))
        options = []
        for option in desc.options:
            if any(p.startswith(f"option {option.key}:") for p in bad):
                continue
            owner = "the core catalogue" if lookup(option.key) is not None else next(
                (n for n, d in self._active() if n != name and any(o.key == option.key for o in d.options)), None)
            if owner is not None:
                log.warning("plugin option ignored: the key is taken", plugin=name, option=option.key, owner=owner)
                continue
            options.append(option)
        return replace(desc, xlators=xlators, options=tuple(options))

    async def _stream_events(self, name: str, client: PluginClient, receive: trio.MemoryReceiveChannel[Event]
                             ) -> None:
        async with receive:
            try:
                await client.stream_events(receive)
            except GD2Error as exc:
                log.info("event stream to plugin ended", plugin=name, reason=exc.message)

    def _exited(self, spec_name: str) -> None:
        p = self._plugins.get(spec_name.removeprefix(SPEC_PREFIX))
        if p is not None:
            if p.client is not None:
                p.client.close()
            p.client = None
            if p.events is not None:
                p.events.close()
                p.events = None
        self.supervisor.poke()

    async def _monitor(self) -> None:
        last_health = trio.current_time()
        while True:
            await trio.sleep(0.25)
            await self._check_states()
            if trio.current_time() - last_health >= self._health_interval:
                last_health = trio.current_time()
                await self._check_health()

    async def _check_states(self) -> None:
        for name, p in list(self._plugins.items()):
            state, error = self.state(name)
            if state == "refused" and p.verdict.state == "runnable":
                spec_name = SPEC_PREFIX + name
                await self.supervisor.release([self._spec(p.verdict)])
                p.verdict = replace(p.verdict, state="refused", reason=self._backend.refused.get(spec_name, ""))
                log.error("plugin refused", plugin=name, reason=p.verdict.reason)
            if state == p.announced or state == "starting":
                continue
            restarts = self.supervisor.status(SPEC_PREFIX + name).restarts
            if state == "running":
                self._emit("plugin-restarted" if restarts else "plugin-started", name, version=p.verdict.probe.version,
                           restarts=str(restarts))
            elif state in ("failed", "refused"):
                self._emit(f"plugin-{state}", name, error=error or "")
            p.announced = state

    async def _check_health(self) -> None:
        for name, p in list(self._plugins.items()):
            if p.client is None:
                continue
            try:
                with trio.fail_after(min(5.0, self._call_timeout)):
                    serving, detail = await p.client.health()
            except trio.TooSlowError:
                serving, detail = False, "no answer to Health within 5s"
            except GD2Error as exc:
                serving, detail = False, exc.message
            p.health_failures = 0 if serving else p.health_failures + 1
            if p.health_failures >= 3:
                log.error("plugin unhealthy; restarting it", plugin=name, detail=detail)
                p.health_failures = 0
                await self._backend.stop(self._spec(p.verdict), 3.0)
                self.supervisor.poke()

    def _emit(self, type_: str, plugin: str, **attrs: str) -> None:
        self._event_seq += 1
        event = Event(f"{self._host.peer_id}-plugin-{self._event_seq}", type_, time.time(),
                      self._host.peer_id, {"plugin": plugin, **attrs})
        log.info("plugin event", kind=type_, plugin=plugin, **attrs)
        for listener in self._event_listeners:
            listener(event)
        if not self._event_listeners:  # a listener (the cluster stream) brings it back to the plugins
            self.publish(event)


def _route_matches(pattern: str, path: str) -> bool:
    parts = re.split(r"(\{[a-zA-Z_][a-zA-Z0-9_]*\})", pattern)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.fullmatch(f"{regex}/?", path) is not None
