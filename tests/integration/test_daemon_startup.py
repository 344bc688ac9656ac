"""The daemon's life: start, readiness, bad config, unreachable etcd, etcd supervision, shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess, venv_bin


def _run_glusterd2(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    dirs = ["--localstatedir", str(tmp_path / "s"), "--rundir", str(tmp_path / "r"), "--logdir", str(tmp_path / "l")]
    return subprocess.run([venv_bin("glusterd2"), *dirs, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "gd2.toml"
    config.write_text('address = "127.0.0.40"\nrest-port = 24009\nlog-level = [unclosed\n')
    result = _run_glusterd2(tmp_path, "--config", str(config))
    assert result.returncode == 2
    _no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert str(config) in line and "line 3" in line


def test_unknown_key_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "gd2.toml"
    config.write_text('\n\npeeraddress = "x"\n')
    result = _run_glusterd2(tmp_path, "--config", str(config))
    assert result.returncode == 2
    assert "line 3: unknown key 'peeraddress'" in result.stderr
    _no_traceback(result)


def test_unreachable_etcd_is_a_clear_error(tmp_path: Path) -> None:
    result = _run_glusterd2(tmp_path, "--address", "127.0.0.41", "--store-timeout", "1",
                            "--etcd-endpoints", "http://127.0.0.41:1", "--etcd-allow-http", "true")
    assert result.returncode == 1
    _no_traceback(result)
    assert "glusterd2: etcd at http://127.0.0.41:1 did not answer" in result.stderr


def test_missing_etcd_binary_is_a_clear_error(tmp_path: Path) -> None:
    result = _run_glusterd2(tmp_path, "--address", "127.0.0.42", "--etcd-binary", "/nonexistent/etcd")
    assert result.returncode == 1
    _no_traceback(result)
    assert "etcd binary '/nonexistent/etcd' not found" in result.stderr


def test_embedded_etcd_that_cannot_start_is_reported(tmp_path: Path) -> None:
    # Something else holds the etcd client port on this address.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.43", 2379))
        squatter.listen()
        result = _run_glusterd2(tmp_path, "--address", "127.0.0.43", "--etcd-start-timeout", "10")
    assert result.returncode == 1
    _no_traceback(result)
    assert "etcd on https://127.0.0.43:2379 exited" in result.stderr
    assert "address already in use" in result.stderr


def test_external_etcd(daemon_factory: Callable[..., DaemonProcess], etcd_url: str, brick_fs: Path) -> None:
    gd2 = daemon_factory("--etcd-endpoints", etcd_url, "--etcd-allow-http", "true")  # the session's etcd
    assert gd2.etcd_pid() is None
    gd2.ctl("volume", "create", "ext", f"{gd2.address}:{brick_fs}/x", check=True)
    gd2.stop()
    gd2.start()
    assert gd2.ctl("volume", "list", check=True).stdout.split() == ["ext"]


def test_daemons_side_by_side_do_not_collide(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    nodes = [daemon_factory(name=f"n{i}") for i in range(3)]
    for i, node in enumerate(nodes):
        node.ctl("volume", "create", f"v{i}", f"{node.address}:{brick_fs}/n{i}", check=True)
    for i, node in enumerate(nodes):
        assert node.ctl("volume", "list", check=True).stdout.split() == [f"v{i}"]
    ids = {node.ctl("--json", "peer", "list", check=True).stdout for node in nodes}
    assert len(ids) == 3


def test_second_daemon_on_the_same_rundir_is_refused(gd2: DaemonProcess) -> None:
    twin = DaemonProcess(gd2.workdir, "127.0.0.44")
    twin.start(wait=False)
    assert twin.process is not None
    assert twin.process.wait(30) == 1
    assert "another glusterd2 is already serving" in twin.stderr_tail()
    assert gd2.ctl("volume", "list").returncode == 0


def test_ready_is_sent_to_systemd(daemon_factory: Callable[..., DaemonProcess], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(60)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        gd2 = daemon_factory(wait=False)
        message = sock.recv(4096)
        assert b"READY=1" in message
        gd2.wait_ready(5)  # READY=1 is sent only once the API answers
        assert gd2.process is not None
        gd2.process.send_signal(signal.SIGTERM)
        later = [sock.recv(4096) for _ in range(2)]  # STATUS= once serving, then STOPPING=1
        assert later[0].startswith(b"STATUS=serving") and b"STOPPING=1" in later[1]
    assert gd2.stop() == 0


def test_sigterm_stops_etcd_too(gd2: DaemonProcess) -> None:
    etcd = gd2.etcd_pid()
    assert etcd is not None
    assert gd2.stop() == 0
    assert not Path(f"/proc/{etcd}").exists()
    assert not any(p.name == "gd2.sock" and _answers(p) for p in gd2.rundir.iterdir())


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def test_etcd_killed_is_restarted(gd2: DaemonProcess, brick_fs: Path) -> None:
    first = gd2.etcd_pid()
    assert first is not None
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = gd2.etcd_pid()
        if pid not in (None, first) and gd2.ctl("volume", "list").returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"etcd was not restarted: {gd2.stderr_tail()}")
    gd2.ctl("volume", "create", "after", f"{gd2.address}:{brick_fs}/a", check=True)
    assert "etcd exited; restarting" in gd2.stderr_path.read_text()


def test_a_taken_rest_port_is_a_clear_error(gd2: DaemonProcess) -> None:
    assert gd2.stop() == 0
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((gd2.address, gd2.rest_port))
        squatter.listen()
        gd2.start(wait=False)
        assert gd2.process is not None
        assert gd2.process.wait(60) == 1
    gd2.process = None
    err = gd2.stderr_path.read_text()
    assert f"glusterd2: cannot listen on {gd2.address}:{gd2.rest_port}: Address already in use" in err
    assert "Traceback" not in err
