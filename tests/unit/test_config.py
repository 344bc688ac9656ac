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
    path = _write(tmp_path, 'address = "127.0.0.5"\nrest-port = 30009\netcd-endpoints = ["http://127.0.0.9:2379"]\n')
    config = load_config(["--config", str(path), "--rest-port", "30010"])
    assert config.address == "127.0.0.5"
    assert config.rest_port == 30010
    assert config.etcd_endpoints == ("http://127.0.0.9:2379",)
    assert not config.embedded_etcd
    assert config.socket_path == Path("/run/glusterd2/gd2.sock")


def test_flag_list_of_endpoints() -> None:
    config = load_config(["--etcd-endpoints", "http://127.0.0.1:1,http://127.0.0.2:2"])
    assert config.etcd_endpoints == ("http://127.0.0.1:1", "http://127.0.0.2:2")


@pytest.mark.parametrize(("text", "expected"), [
    ('address = "127.0.0.5"\nrest-port = \n', "line 2"),
    ('address = "127.0.0.5"\n\nbogus-key = 1\n', "line 3: unknown key 'bogus-key'"),
    ('rest-port = "many"\n', "line 1: 'rest-port' must be a port number"),
    ('rest-port = 70000\n', "'rest-port' must be a port number"),
    ('address = "localhost"\n', "'address' must be an IP address"),
    ('localstatedir = "relative/dir"\n', "'localstatedir' must be an absolute path"),
    ('log-level = "chatty"\n', "'log-level' must be one of"),
    ('etcd-endpoints = ["ftp://x"]\n', "is not an http://HOST:PORT URL"),
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
