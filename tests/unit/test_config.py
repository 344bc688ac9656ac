"""Config: defaults < TOML < flags, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gd2.config import load_config
from gd2.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glusterd2.toml"
    path.write_text(text)
    return path


def test_file_then_flags(tmp_path: Path) -> None:
    path = _write(tmp_path, 'address = "127.0.0.5"\nrest-port = 30009\netcd-endpoints = ["https://127.0.0.9:2379"]\n')
    config = load_config(["--config", str(path), "--rest-port", "30010"])
    assert config.address == "127.0.0.5"
    assert config.rest_port == 30010
    assert config.etcd_endpoints == ("https://127.0.0.9:2379",)
    assert not config.embedded_etcd
    assert config.socket_path == Path("/run/glusterd2/gd2.sock")


def test_flag_list_of_endpoints() -> None:
    config = load_config(["--etcd-endpoints", "https://127.0.0.1:1,https://127.0.0.2:2"])
    assert config.etcd_endpoints == ("https://127.0.0.1:1", "https://127.0.0.2:2")


def test_external_etcd_tls_settings(tmp_path: Path) -> None:
    path = _write(tmp_path, 'etcd-endpoints = ["https://127.0.0.9:2379"]\netcd-ca-file = "/etc/x/ca.pem"\n'
                            'etcd-cert-file = "/etc/x/c.pem"\netcd-key-file = "/etc/x/c.key"\n')
    config = load_config(["--config", str(path)])
    assert (config.etcd_ca_file, config.etcd_cert_file, config.etcd_key_file) == (
        Path("/etc/x/ca.pem"), Path("/etc/x/c.pem"), Path("/etc/x/c.key"))
    assert not config.etcd_allow_http
    # The CA may come from the system; an empty value leaves a file unset.
    assert load_config(["--config", str(path), "--etcd-ca-file", ""]).etcd_ca_file is None


def test_plain_http_etcd_only_when_allowed() -> None:
    with pytest.raises(ConfigError, match="plain http: whoever reaches it reads the pool CA's key"):
        load_config(["--etcd-endpoints", "http://127.0.0.1:1"])
    config = load_config(["--etcd-endpoints", "http://127.0.0.1:1", "--etcd-allow-http", "true"])
    assert config.etcd_allow_http and config.etcd_endpoints == ("http://127.0.0.1:1",)


@pytest.mark.parametrize(("argv", "expected"), [
    (["--etcd-ca-file", "/ca.pem"], "etcd-ca-file: only for etcd-endpoints"),
    (["--etcd-allow-http", "yes"], "etcd-allow-http: only for etcd-endpoints"),
    (["--etcd-endpoints", "https://h:1,http://h:2", "--etcd-allow-http", "1"], "mixes http:// and https://"),
    (["--etcd-endpoints", "https://h:1", "--etcd-cert-file", "/c.pem"], "go together"),
    (["--etcd-endpoints", "http://h:1", "--etcd-allow-http", "on", "--etcd-ca-file", "/ca.pem"],
     "etcd-endpoints are http://"),
    (["--etcd-endpoints", "https://h:1", "--etcd-allow-http", "maybe"], "must be true or false"),
    (["--etcd-endpoints", "https://h:1", "--etcd-key-file", "key.pem"], "must be an absolute path"),
])
def test_bad_external_etcd_tls_settings(argv: list[str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(argv)


@pytest.mark.parametrize(("text", "expected"), [
    ('address = "127.0.0.5"\nrest-port = \n', "line 2"),
    ('address = "127.0.0.5"\n\nbogus-key = 1\n', "line 3: unknown key 'bogus-key'"),
    ('rest-port = "many"\n', "line 1: 'rest-port' must be a port number"),
    ('rest-port = 70000\n', "'rest-port' must be a port number"),
    ('address = "localhost"\n', "'address' must be an IP address"),
    ('localstatedir = "relative/dir"\n', "'localstatedir' must be an absolute path"),
    ('log-level = "chatty"\n', "'log-level' must be one of"),
    ('etcd-endpoints = ["ftp://x"]\n', "is not an https://HOST:PORT URL"),
    ('store-timeout = -1\n', "'store-timeout' must be a positive number"),
])
def test_bad_file_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(["--config", str(path)])
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_bad_flags(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(["--config", str(tmp_path / "none.toml")])
    with pytest.raises(ConfigError, match="--rest-port"):
        load_config(["--rest-port", "x"])
    with pytest.raises(ConfigError, match="ports must differ"):
        load_config(["--rest-port", "2379"])


def test_daemon_backend_choice(tmp_path: Path) -> None:
    assert load_config([]).daemon_backend == "auto"
    assert load_config(["--daemon-backend", "process"]).daemon_backend == "process"
    with pytest.raises(ConfigError, match="'daemon-backend' must be one of auto, systemd, process"):
        load_config(["--daemon-backend", "docker"])
