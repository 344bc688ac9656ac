"""The daemon's settings, from defaults, then the TOML file, then flags.

Every flag is also a TOML key of the same name without the dashes
(``--rest-port 24009`` is ``rest-port = 24009``).  A bad file is reported with
the line it is on, because an admin editing /etc/glusterd2/glusterd2.toml
needs to know where to look, not a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gd2.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("/etc/glusterd2/glusterd2.toml")


@dataclass(frozen=True)
class Config:
    """Everything the daemon reads from its environment, resolved once at start."""

    localstatedir: Path = Path("/var/lib/glusterd2")
    rundir: Path = Path("/run/glusterd2")
    logdir: Path = Path("/var/log/glusterd2")
    address: str = "127.0.0.1"
    sunrpc_port: int = 24007
    peer_port: int = 24008  # peer RPC between pool members (mutual TLS)
    rest_port: int = 24009
    join_port: int = 24010  # where a node not yet in a pool is reached by `peer add` (server TLS only)
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    # Empty: run etcd as a supervised child.  Otherwise: client URLs of an
    # etcd cluster managed by someone else.
    etcd_endpoints: tuple[str, ...] = ()
    # TLS to those endpoints (https://): the CA that signed etcd's certificate (empty: the system's
    # CAs) and glusterd2's client certificate and key.  etcd holds the pool CA's private key, so
    # http:// endpoints are refused unless etcd-allow-http says the admin protects etcd otherwise.
    etcd_ca_file: Path | None = None
    etcd_cert_file: Path | None = None
    etcd_key_file: Path | None = None
    etcd_allow_http: bool = False
    etcd_binary: str = "etcd"
    # How many pool members run an etcd member (1, 3 or 5); the others are its clients.
    etcd_members: int = 3
    # A member node down this long is replaced by another node, so quorum survives.
    etcd_member_grace: float = 60.0
    # How often the pool is checked: dead initiators' transactions, etcd's membership.
    pool_check_interval: float = 2.0
    # Where the GlusterFS xlators are; empty: ask `glusterfsd --print-xlatordir`.
    xlator_dir: str = ""
    log_level: str = "info"
    log_format: str = "console"
    # "auto": the journal when running under systemd (JOURNAL_STREAM), else stderr.
    log_target: str = "auto"
    # How bricks and helper daemons run: "systemd" (transient units), "process", or "auto"
    # (systemd when it is PID 1 and the system bus answers).
    daemon_backend: str = "auto"
    # Deadlines, in seconds, applied at entry points (see docs/architecture.md).
    etcd_start_timeout: float = 15.0
    store_timeout: float = 5.0
    request_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    brick_start_timeout: float = 60.0
    # A SunRPC connection must send each call whole within this long, and its first call
    # within this long of connecting; one that has made a call may then stay idle (clients
    # hold their management connection for life and are sent FETCHSPEC over it).
    sunrpc_call_timeout: float = 10.0
    # Events (docs/operations.md): how long each stays in etcd, and webhook delivery retries.
    events_retention: float = 3600.0
    webhook_attempts: int = 8  # tries of an event a receiver refuses (non-2xx) before it is skipped
    webhook_max_backoff: float = 60.0  # the longest wait between two tries
    webhook_timeout: float = 10.0  # for one POST
    # Each hook script (localstatedir/hooks/1/<op>/{pre,post}/S*) is killed after this long.
    hook_timeout: float = 60.0
    # A pre hook script that fails: "ignore" it (glusterd1 does) or "refuse" the operation.
    pre_hook_failure: str = "ignore"
    # Sub-process plugins (docs/plugins.md): every executable in plugin-dir; per-plugin tables
    # [plugins.<name>] (``enable = false`` leaves one alone; the rest is the plugin's own settings).
    plugin_dir: Path = Path("/usr/lib/glusterd2/plugins")
    plugin_start_timeout: float = 10.0
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    config_file: Path | None = field(default=None, compare=False)

    @property
    def socket_path(self) -> Path:
        """The local REST API socket (root-only by its mode)."""
        return self.rundir / "gd2.sock"

    @property
    def etcd_datadir(self) -> Path:
        return self.localstatedir / "etcd"

    @property
    def auth_file(self) -> Path:
        return self.localstatedir / "auth"

    @property
    def xlator_cache(self) -> Path:
        return self.localstatedir / "xlator-options.json"

    @property
    def embedded_etcd(self) -> bool:
        return not self.etcd_endpoints


_LOG_LEVELS = ("debug", "info", "warning", "error")
_LOG_FORMATS = ("console", "json", "logfmt")
_PORT_KEYS = ("sunrpc_port", "peer_port", "rest_port", "join_port", "etcd_client_port", "etcd_peer_port")
_PATH_KEYS = ("localstatedir", "rundir", "logdir", "plugin_dir")
_OPTIONAL_PATH_KEYS = ("etcd_ca_file", "etcd_cert_file", "etcd_key_file")  # "" leaves one unset
_BOOL_KEYS = ("etcd_allow_http",)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_FLOAT_KEYS = ("etcd_start_timeout", "store_timeout", "request_timeout", "shutdown_timeout", "hook_timeout",
               "brick_start_timeout", "etcd_member_grace", "pool_check_interval",
               "plugin_start_timeout", "events_retention", "webhook_max_backoff", "webhook_timeout",
               "sunrpc_call_timeout")
_COUNT_KEYS = ("webhook_attempts",)
_STR_KEYS = ("address", "etcd_binary", "log_level", "log_format", "xlator_dir", "daemon_backend", "log_target")
_LOG_TARGETS = ("auto", "stderr", "journal")
_BACKENDS = ("auto", "systemd", "process")
_PRE_HOOK_FAILURE = ("ignore", "refuse")


def _keys() -> list[str]:
    return [f.name for f in fields(Config) if f.name not in ("config_file", "plugins")]


def _dashed(key: str) -> str:
    return key.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """The glusterd2 command line; every option defaults to 'not given'."""
    parser = argparse.ArgumentParser(
        prog="glusterd2",
        description="GlusterFS management daemon (GlusterD-2.0).",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", type=Path, help=f"TOML config file (default {DEFAULT_CONFIG_FILE})")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    for key in _keys():
        parser.add_argument(f"--{_dashed(key)}", dest=key, metavar=key.upper().replace("_", "-"))
    return parser


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _convert(key: str, value: Any, where: str) -> Any:
    """Check and convert one setting; ``where`` prefixes the error message."""
    name = _dashed(key)
    if key in _PORT_KEYS:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ConfigError(f"{where}'{name}' must be a port number 0-65535, got {value!r}")
        return value
    if key == "etcd_members":
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value not in (1, 3, 5) or isinstance(value, bool):
            raise ConfigError(f"{where}'{name}' must be 1, 3 or 5, got {value!r}")
        return value
    if key in _COUNT_KEYS:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            raise ConfigError(f"{where}'{name}' must be a whole number 1-1000, got {value!r}")
        return value
    if key in _FLOAT_KEYS:
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number <= 0:
            raise ConfigError(f"{where}'{name}' must be a positive number of seconds, got {value!r}")
        return number
    if key in _BOOL_KEYS:
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            value = value.lower() in _TRUE
        if not isinstance(value, bool):
            raise ConfigError(f"{where}'{name}' must be true or false, got {value!r}")
        return value
    if key in _OPTIONAL_PATH_KEYS and value == "":
        return None
    if key in _PATH_KEYS or key in _OPTIONAL_PATH_KEYS:
        if not isinstance(value, str) or not value.startswith("/"):
            raise ConfigError(f"{where}'{name}' must be an absolute path, got {value!r}")
        return Path(value)
    if key == "etcd_endpoints":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{where}'{name}' must be a list of URLs, got {value!r}")
        urls = tuple(i.strip() for i in items if i.strip())
        for url in urls:
            if not re.fullmatch(r"https?://[^/\s]+:\d+/?", url):
                raise ConfigError(f"{where}'{name}': {url!r} is not an https://HOST:PORT URL")
        return urls
    if not isinstance(value, str):
        raise ConfigError(f"{where}'{name}' must be a string, got {value!r}")
    if key == "address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"{where}'{name}' must be an IP address, got {value!r}") from None
    if key == "log_level" and value not in _LOG_LEVELS:
        raise ConfigError(f"{where}'{name}' must be one of {', '.join(_LOG_LEVELS)}, got {value!r}")
    if key == "log_target" and value not in _LOG_TARGETS:
        raise ConfigError(f"{where}'{name}' must be one of {', '.join(_LOG_TARGETS)}, got {value!r}")
    if key == "daemon_backend" and value not in _BACKENDS:
        raise ConfigError(f"{where}'{name}' must be one of {', '.join(_BACKENDS)}, got {value!r}")
    if key == "pre_hook_failure" and value not in _PRE_HOOK_FAILURE:
        raise ConfigError(f"{where}'{name}' must be one of {', '.join(_PRE_HOOK_FAILURE)}, got {value!r}")
    if key == "log_format" and value not in _LOG_FORMATS:
        raise ConfigError(f"{where}'{name}' must be one of {', '.join(_LOG_FORMATS)}, got {value!r}")
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse and check a TOML config file into Config keyword arguments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    known = {_dashed(k): k for k in _keys()}
    settings: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "plugins":  # [plugins.<name>] tables: what each plugin is given (docs/plugins.md)
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"config {path}: 'plugins' must hold one table per plugin ([plugins.NAME])")
            settings["plugins"] = value
            continue
        line = _line_of(text, name)
        where = f"config {path}" + (f" line {line}" if line else "") + ": "
        if name not in known:
            raise ConfigError(f"{where}unknown key '{name}' (known: {', '.join(sorted(known))})")
        settings[known[name]] = _convert(known[name], value, where)
    return settings


def load_config(argv: Sequence[str] | None = None) -> Config:
    """Resolve the configuration: defaults < TOML file < flags.

    Raises :class:`ConfigError` with a one-line message on any problem.
    ``--help`` and argparse's own usage errors exit as argparse does.
    """
    args = vars(build_parser().parse_args(argv))
    config_path: Path | None = args.pop("config", None)
    args.pop("version", None)
    settings: dict[str, Any] = {}
    if config_path is not None:
        settings.update(read_config_file(config_path))
    elif DEFAULT_CONFIG_FILE.exists():
        config_path = DEFAULT_CONFIG_FILE
        settings.update(read_config_file(config_path))
    for key, value in args.items():
        settings[key] = _convert(key, value, f"--{_dashed(key)}: ")
    config = replace(Config(), config_file=config_path, **settings)
    _check_etcd_tls(config)
    ports = [getattr(config, k) for k in _PORT_KEYS if getattr(config, k)]
    if len(set(ports)) != len(ports):
        raise ConfigError("ports must differ: " + ", ".join(f"{_dashed(k)}={getattr(config, k)}"
                                                             for k in _PORT_KEYS))
    return config


def _check_etcd_tls(config: Config) -> None:
    """The external etcd's TLS settings must fit its endpoints (the files themselves are read at start)."""
    files = {k: getattr(config, k) for k in _OPTIONAL_PATH_KEYS if getattr(config, k) is not None}
    if not config.etcd_endpoints:
        if files or config.etcd_allow_http:
            given = ", ".join(_dashed(k) for k in [*files, *(["etcd_allow_http"] if config.etcd_allow_http else [])])
            raise ConfigError(f"{given}: only for etcd-endpoints; the embedded etcd uses this node's "
                              "certificate from the pool CA (localstatedir/tls)")
        return
    schemes = {url.split("://", 1)[0] for url in config.etcd_endpoints}
    if len(schemes) > 1:
        raise ConfigError("etcd-endpoints mixes http:// and https:// URLs; use https:// for all")
    if (config.etcd_cert_file is None) != (config.etcd_key_file is None):
        raise ConfigError("etcd-cert-file and etcd-key-file go together (the client certificate and its key)")
    if schemes == {"http"}:
        if files:
            raise ConfigError(f"{', '.join(_dashed(k) for k in files)}: TLS files given, but etcd-endpoints are "
                              "http://; use https:// URLs")
        if not config.etcd_allow_http:
            raise ConfigError(
                f"etcd-endpoints {','.join(config.etcd_endpoints)} is plain http: whoever reaches it reads the "
                "pool CA's key; use https:// with etcd-ca-file, etcd-cert-file and etcd-key-file, or set "
                "etcd-allow-http = true if etcd is protected otherwise")
