"""Plugins under a real glusterd2 (docs/plugins.md): handshake, dependency order, refusals,
crash loops, REST forwarding, and the bitrot plugin with real bricks, bitd and scrub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gd2.testing import DaemonProcess

REPO = Path(__file__).resolve().parents[2]
TEST_PLUGIN = REPO / "tests" / "plugins" / "testplugin.py"


def install(plugin_dir: Path, source: Path, name: str, settings: dict[str, Any] | None = None) -> Path:
    """Copy a plugin into ``plugin_dir`` with this interpreter in its #! line (the venv has gd2)."""
    plugin_dir.mkdir(parents=True, exist_ok=True)
    lines = source.read_text().splitlines(keepends=True)
    body = "".join(lines[1:] if lines and lines[0].startswith("#!") else lines)
    dest = plugin_dir / name
    dest.write_text(f"#!{sys.executable}\n{body}")
    dest.chmod(0o755)
    if settings is not None:
        Path(f"{dest}.json").write_text(json.dumps({"name": name, **settings}))
    return dest


def plugins(gd2: DaemonProcess) -> dict[str, dict[str, Any]]:
    data = json.loads(gd2.ctl("--json", "plugin", "list", check=True).stdout)
    return {p["name"]: p for p in data["plugins"]}


def wait_for(what: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = what()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {what}")
        time.sleep(interval)


def test_a_plugin_run_by_hand_says_what_it_is() -> None:
    result = subprocess.run([sys.executable, str(REPO / "plugins" / "bitrot")], capture_output=True, text=True,
                            timeout=30, env={k: v for k, v in os.environ.items() if not k.startswith("GD2_PLUGIN")})
    assert result.returncode == 1
    assert "bitrot 1.0.0: a glusterd2 plugin" in result.stderr
    assert "started by glusterd2" in result.stderr and result.stdout == ""


def test_dependency_order_missing_and_old_dependencies(tmp_path: Path,
                                                       daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir, log = tmp_path / "plugins", tmp_path / "starts.log"
    install(pdir, TEST_PLUGIN, "alpha", {"version": "1.2.0", "start_log": str(log)})
    install(pdir, TEST_PLUGIN, "beta", {"depends": [["alpha", "1.0"]], "start_log": str(log)})
    install(pdir, TEST_PLUGIN, "gamma", {"depends": [["zeta", ""]], "start_log": str(log)})
    install(pdir, TEST_PLUGIN, "delta", {"depends": [["alpha", "2.0"]], "start_log": str(log)})
    gd2 = daemon_factory("--plugin-dir", str(pdir))
    found = plugins(gd2)
    assert found["alpha"]["state"] == "running" and found["beta"]["state"] == "running", found
    assert found["gamma"]["state"] == "refused"
    assert found["gamma"]["error"] == "plugin gamma needs plugin zeta, which is not installed"
    assert found["delta"]["state"] == "refused"
    assert found["delta"]["error"] == "plugin delta needs plugin alpha >= 2.0; installed: alpha 1.2.0"
    started = [line.split()[0] for line in log.read_text().splitlines()]
    assert started == ["alpha", "beta"]  # beta only after alpha answered; gamma and delta never ran
    # REST commands are forwarded to the plugin, with its configuration
    status, body = gd2.api("GET", "/v1/plugins/beta/hello/world")
    assert (status, body["hello"], body["plugin"]) == (200, "world", "beta")
    status, body = gd2.api("GET", "/v1/plugins/beta/nothing-here")
    assert status == 404 and "plugin beta has no GET /nothing-here" in body["error"]["message"]
    status, body = gd2.api("GET", "/v1/plugins/gamma/hello/x")
    assert status == 503 and "plugin gamma is refused" in body["error"]["message"]
    text = gd2.ctl("plugin", "list", check=True).stdout
    assert "alpha" in text and "running" in text and "refused" in text


def test_a_wrong_protocol_version_is_refused_naming_both(tmp_path: Path,
                                                         daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir = tmp_path / "plugins"
    install(pdir, TEST_PLUGIN, "wrongver", {"handshake_protocol": 99})
    install(pdir, TEST_PLUGIN, "fine", {})
    gd2 = daemon_factory("--plugin-dir", str(pdir))
    found = wait_for(lambda: (p := plugins(gd2))["wrongver"]["state"] == "refused" and p)
    assert found["wrongver"]["error"] == "plugin wrongver speaks plugin protocol 99; this glusterd2 speaks 1"
    assert found["fine"]["state"] == "running"
    assert gd2.ctl("volume", "list").returncode == 0


def test_a_crashing_plugin_is_restarted_then_marked_failed(tmp_path: Path, brick_fs: Path,
                                                           daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir, cue = tmp_path / "plugins", tmp_path / "crash-now"
    install(pdir, TEST_PLUGIN, "crashy", {"crash_file": str(cue)})
    gd2 = daemon_factory("--plugin-dir", str(pdir))
    assert plugins(gd2)["crashy"]["state"] == "running"
    first_pid = plugins(gd2)["crashy"]["pid"]
    cue.touch()
    wait_for(lambda: plugins(gd2)["crashy"]["state"] != "running")
    cue.unlink()
    again = wait_for(lambda: (p := plugins(gd2)["crashy"])["state"] == "running" and p)
    assert again["restarts"] == 1 and again["pid"] != first_pid
    cue.touch()  # from now on it dies at every start: a crash loop
    gd2.ctl("volume", "create", "cv", f"{gd2.address}:{brick_fs / 'c0'}", check=True)  # glusterd2 keeps serving
    failed = wait_for(lambda: (p := plugins(gd2)["crashy"])["state"] == "failed" and p, timeout=60)
    assert "5 times within 60s" in failed["error"]
    assert gd2.ctl("volume", "start", "cv").returncode == 0
    assert json.loads(gd2.ctl("--json", "volume", "info", "cv", check=True).stdout)["state"] == "Started"
    status, body = gd2.api("GET", "/v1/plugins/crashy/hello/x")
    assert status == 503 and "plugin crashy is failed" in body["error"]["message"]
    log = gd2.stderr_path.read_text()
    assert "crashy: crashing on cue" in log and "plugin=crashy" in log
    gd2.ctl("volume", "stop", "cv", check=True)


def test_a_plugin_that_fails_its_health_checks_is_restarted(tmp_path: Path,
                                                            daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir, cue = tmp_path / "plugins", tmp_path / "sick-now"
    install(pdir, TEST_PLUGIN, "sickly", {"sick_file": str(cue)})
    gd2 = daemon_factory("--plugin-dir", str(pdir))
    first = plugins(gd2)["sickly"]
    assert first["state"] == "running"
    cue.touch()  # its Health answers "not serving" from now on: three checks (5 s apart) and it is restarted
    again = wait_for(lambda: (p := plugins(gd2)["sickly"])["pid"] not in (None, first["pid"]) and p, timeout=60)
    cue.unlink()
    assert again["restarts"] == 1
    wait_for(lambda: plugins(gd2)["sickly"]["state"] == "running")
    log = gd2.stderr_path.read_text()
    assert "plugin unhealthy; restarting it" in log and "sick on cue" in log
    status, body = gd2.api("GET", "/v1/plugins/sickly/hello/x")
    assert status == 200 and body["hello"] == "x"


def _pid_of(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def test_bitrot_stub_in_a_real_brick_and_its_daemons(tmp_path: Path, brick_fs: Path,
                                                     daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir = tmp_path / "plugins"
    install(pdir, REPO / "plugins" / "bitrot", "bitrot")
    gd2 = daemon_factory("--plugin-dir", str(pdir))
    assert plugins(gd2)["bitrot"]["state"] == "running"
    bricks = [brick_fs / "b0", brick_fs / "b1"]
    gd2.ctl("volume", "create", "bv", *[f"{gd2.address}:{b}" for b in bricks], check=True)
    refused = gd2.ctl("volume", "set", "bv", "features.bitrot", "maybe")
    assert refused.returncode == 1 and "features.bitrot" in refused.stderr
    enable = gd2.ctl("bitrot", "bv", "enable")
    assert enable.returncode == 0, enable.stderr
    got = json.loads(gd2.ctl("--json", "volume", "get", "bv", "features.bitrot", check=True).stdout)
    assert got["options"][0]["value"] == "on"
    gd2.ctl("volume", "start", "bv", check=True)
    def online() -> dict[str, Any] | None:
        found: dict[str, Any] = json.loads(gd2.ctl("--json", "volume", "status", "bv", check=True).stdout)
        return found if all(b["online"] for b in found["bricks"]) else None

    status = wait_for(online)
    assert all(b["pid"] for b in status["bricks"])
    brick_log = gd2.logdir / "bricks" / f"{str(bricks[0]).strip('/').replace('/', '-')}.log"
    graph = wait_for(lambda: "type features/bitrot-stub" in (t := brick_log.read_text()) and t)
    stub = graph[graph.index("volume bv-bitrot-stub"):]
    assert "option bitrot on" in stub[:stub.index("end-volume")]  # the brick loaded the stub, switched on
    run = gd2.rundir / "plugins" / "bitrot"
    def daemon_pids() -> list[int | None] | None:
        found = [_pid_of(run / f"bv-{role}.pid") for role in ("bitd", "scrub")]
        return found if all(found) else None

    pids = wait_for(daemon_pids)
    for pid, role in zip(pids, ("bitd", "scrub"), strict=True):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0].endswith(b"glusterfs") and f"{role}.vol".encode() in b" ".join(cmdline)
    volfile = (gd2.statedir / "plugins" / "bitrot" / "bv" / "scrub.vol").read_text()
    assert "type features/bit-rot" in volfile and "option scrubber true" in volfile
    shown = gd2.ctl("bitrot", "bv", "scrub-status", check=True).stdout
    assert "State of bitrot : Enabled" in shown and "scrub: running" in shown
    gd2.ctl("bitrot", "bv", "disable", check=True)
    wait_for(lambda: all(_pid_of(run / f"bv-{role}.pid") is None for role in ("bitd", "scrub")))
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    gd2.ctl("volume", "stop", "bv", check=True)


def test_the_prometheus_exporter_follows_the_pool(tmp_path: Path, brick_fs: Path,
                                                  daemon_factory: Callable[..., DaemonProcess]) -> None:
    pdir = tmp_path / "plugins"
    install(pdir, REPO / "plugins" / "prometheus", "prometheus")
    net = os.environ.get("GD2_TEST_NET", "0")
    listen = f"127.0.{net}.250:9713"
    config = tmp_path / "glusterd2.toml"
    config.write_text(f'plugin-dir = "{pdir}"\n\n[plugins.prometheus]\nlisten = "{listen}"\n')
    gd2 = daemon_factory("--config", str(config))
    assert plugins(gd2)["prometheus"]["state"] == "running"

    def scrape() -> str:
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    assert "gluster_volumes 0" in wait_for(lambda: "gluster_up 1" in (t := scrape()) and t)
    gd2.ctl("volume", "create", "mv", f"{gd2.address}:{brick_fs / 'm0'}", check=True)
    text = wait_for(lambda: 'gluster_volume_info{volume="mv",type="Distribute",state="Created"} 1' in (
        t := scrape()) and t)
    assert "gluster_volumes 1" in text and 'gluster_volume_bricks{volume="mv"} 1' in text
    assert 'gluster_events_total{type="volume-create"}' in text  # it came from the event stream
    gd2.ctl("volume", "start", "mv", check=True)
    brick = f'gluster_brick_online{{volume="mv",brick="{gd2.address}:{brick_fs / "m0"}"}} 1'
    wait_for(lambda: brick in scrape())
    status, body = gd2.api("GET", "/v1/plugins/prometheus/metrics")
    assert status == 200 and "gluster_up 1" in body["metrics"]
    gd2.ctl("volume", "stop", "mv", check=True)
