"""The plugin protocol's messages as plain dataclasses (pure); gd2.plugins.wire converts them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gd2.plugins.handshake import Dependency


@dataclass(frozen=True)
class HostInfo:
    """Who is asking (Describe's request): glusterd2 and this node."""

    version: str = ""
    protocol: int = 1
    peer_id: str = ""
    address: str = ""
    sunrpc_port: int = 24007
    rundir: str = ""
    logdir: str = ""
    statedir: str = ""
    plugin_statedir: str = ""
    api_socket: str = ""
    config_json: str = "{}"


@dataclass(frozen=True)
class XlatorRule:
    graph: str  # "brick" or "client"
    type: str
    name: str = ""
    after: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    when_option: str = ""


@dataclass(frozen=True)
class OptionSpec:
    key: str
    kind: str = "string"  # bool, int, enum, string
    default: str | None = None
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str = ""


@dataclass(frozen=True)
class Description:
    """Describe's answer: who the plugin is and what it contributes."""

    name: str
    version: str
    description: str = ""
    depends: tuple[Dependency, ...] = ()
    xlators: tuple[XlatorRule, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    routes: tuple[Route, ...] = ()
    daemons: bool = False
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonFile:
    path: str
    content: str


@dataclass(frozen=True)
class PluginDaemon:
    """A daemon a plugin wants run for a volume (gd2.daemons.base.DaemonSpec plus files)."""

    name: str
    argv: tuple[str, ...]
    pidfile: str
    logfile: str
    identity: str
    env: Mapping[str, str] = field(default_factory=dict)
    files: tuple[DaemonFile, ...] = ()
    depends_on: tuple[str, ...] = ()
    foreground_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    time: float
    node: str = ""
    attrs: Mapping[str, str] = field(default_factory=dict)
