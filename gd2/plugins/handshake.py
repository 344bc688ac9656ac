"""The plugin handshake: environment, probe line and handshake line (pure; docs/plugins.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gd2.errors import GD2Error

COOKIE_KEY = "GD2_PLUGIN_MAGIC_COOKIE"
COOKIE_VALUE = "d3b07384d113edec49eaa6238ad5ff00-glusterd2-plugin"
VERSIONS_KEY = "GD2_PLUGIN_PROTOCOL_VERSIONS"
PROBE_KEY = "GD2_PLUGIN_PROBE"
SOCKET_DIR_KEY = "GD2_PLUGIN_SOCKET_DIR"

CORE_VERSION = 1  # the handshake line's format
PROTOCOL_VERSIONS = (1,)  # plugin protocol versions this glusterd2 speaks

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


class PluginRefused(GD2Error):
    """A plugin cannot be used: bad handshake, wrong version, missing dependency."""

    code = "bad_config"


@dataclass(frozen=True)
class Dependency:
    name: str
    min_version: str = ""

    def __str__(self) -> str:
        return f"{self.name} >= {self.min_version}" if self.min_version else self.name


@dataclass(frozen=True)
class Probe:
    """What a plugin says of itself before it is started."""

    name: str
    version: str
    protocols: tuple[int, ...]
    depends: tuple[Dependency, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Handshake:
    core: int
    protocol: int
    network: str
    address: str
    rpc: str


@dataclass(frozen=True)
class HostEnv:
    """The environment glusterd2 gives a plugin."""

    versions: Sequence[int] = PROTOCOL_VERSIONS
    socket_dir: str = ""
    probe: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = {COOKIE_KEY: COOKIE_VALUE, VERSIONS_KEY: ",".join(str(v) for v in self.versions), **self.extra}
        if self.probe:
            env[PROBE_KEY] = "1"
        if self.socket_dir:
            env[SOCKET_DIR_KEY] = self.socket_dir
        return env


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


def probe_line(probe: Probe) -> str:
    return json.dumps({"name": probe.name, "version": probe.version, "protocol": list(probe.protocols),
                       "description": probe.description,
                       "depends": [{"name": d.name, "min_version": d.min_version} for d in probe.depends]})


def parse_probe(text: str, where: str) -> Probe:
    """The probe's JSON line; ``where`` (the executable) names it in errors."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    try:
        data = json.loads(line)
        name, version = str(data["name"]), str(data["version"])
        protocols = tuple(int(v) for v in data.get("protocol") or ())
        depends = tuple(Dependency(str(d["name"]), str(d.get("min_version") or ""))
                        for d in data.get("depends") or ())
        description = str(data.get("description") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise PluginRefused(f"{where} is not a glusterd2 plugin: its probe printed {line[:120]!r}") from None
    if not valid_name(name):
        raise PluginRefused(f"{where}: {name!r} is not a valid plugin name (a-z, 0-9, - and _)")
    return Probe(name, version, protocols, depends, description)


def format_handshake(protocol: int, socket_path: str) -> str:
    return f"{CORE_VERSION}|{protocol}|unix|{socket_path}|grpc"


def parse_handshake(line: str, plugin: str, offered: Sequence[int] = PROTOCOL_VERSIONS) -> Handshake:
    """Check one handshake line; raise PluginRefused with a message naming what is wrong."""
    parts = line.strip().split("|")
    if len(parts) != 5 or not parts[0].isdigit() or not parts[1].isdigit():
        raise PluginRefused(f"plugin {plugin}: bad handshake line {line.strip()[:120]!r} "
                            "(expected CORE|PROTOCOL|unix|ADDRESS|grpc)")
    shake = Handshake(int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4])
    if shake.core != CORE_VERSION:
        raise PluginRefused(f"plugin {plugin} speaks handshake version {shake.core}; "
                            f"this glusterd2 speaks {CORE_VERSION}")
    if shake.protocol not in offered:
        raise PluginRefused(f"plugin {plugin} speaks plugin protocol {shake.protocol}; this glusterd2 speaks "
                            f"{', '.join(str(v) for v in offered)}")
    if shake.network != "unix" or shake.rpc != "grpc" or not shake.address.startswith("/"):
        raise PluginRefused(f"plugin {plugin}: unsupported endpoint {shake.network}:{shake.address} "
                            f"({shake.rpc}); only gRPC on a Unix socket")
    return shake


def choose_protocol(environ: Mapping[str, str], spoken: Sequence[int]) -> int | None:
    """The plugin side: the highest offered version it speaks."""
    offered = {int(v) for v in environ.get(VERSIONS_KEY, "").split(",") if v.strip().isdigit()}
    common = offered & set(spoken)
    return max(common) if common else None
