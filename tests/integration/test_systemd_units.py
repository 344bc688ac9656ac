"""Bricks as transient units of a real systemd (booted in a private namespace).

glusterd2 runs on the host with ``--daemon-backend systemd`` and the
namespace's bus in ``DBUS_SYSTEM_BUS_ADDRESS``; its bricks and self-heal
daemon run as units in ``gd2.slice`` inside the namespace and reach
glusterd2 over loopback.  PIDs in ``volume status`` are the namespace's;
the host's come from each unit's cgroup.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gd2.testing import DaemonProcess
from gd2.testing.systemd_ns import SystemdNamespace


@pytest.fixture
def namespace(brick_fs: Path, tmp_path: Path) -> Iterator[SystemdNamespace]:
    """Booted after the brick filesystem is mounted: later host mounts are not seen inside."""
    namespace = SystemdNamespace(tmp_path / "systemd")
    try:
        yield namespace.boot()
    finally:
        namespace.poweroff()


@pytest.fixture
def gd2(daemon_factory: Callable[..., DaemonProcess], namespace: SystemdNamespace) -> DaemonProcess:
    return daemon_factory("--daemon-backend", "systemd", env={"DBUS_SYSTEM_BUS_ADDRESS": namespace.bus_address})


def _status(gd2: DaemonProcess, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(gd2.ctl("--json", "volume", "status", name, check=True).stdout)
    return result


def _wait(gd2: DaemonProcess, name: str, ok: Callable[[dict[str, Any]], bool], what: str,
          timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status = _status(gd2, name)
    while not ok(status):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout}s: {status}")
        time.sleep(0.1)
        status = _status(gd2, name)
    return status


def _online(status: dict[str, Any]) -> bool:
    return all(b["online"] and b["port"] for b in status["bricks"])


def _unit_pids(namespace: SystemdNamespace) -> dict[str, list[int]]:
    return {unit: namespace.host_pids(unit) for unit in namespace.units_in()}


def _brick_units(namespace: SystemdNamespace) -> dict[str, list[int]]:
    return {u: p for u, p in _unit_pids(namespace).items() if u.startswith("gd2-brick-")}


def test_one_unit_per_brick_and_none_after_stop(gd2: DaemonProcess, namespace: SystemdNamespace,
                                                 brick_fs: Path) -> None:
    bricks = [f"{gd2.address}:{brick_fs / name}" for name in ("b0", "b1")]
    gd2.ctl("volume", "create", "sv", "replica", "2", *bricks, "force", check=True)
    gd2.ctl("volume", "start", "sv", check=True)
    _wait(gd2, "sv", _online, "bricks online")
    units = _unit_pids(namespace)
    brick_units = sorted(u for u in units if u.startswith("gd2-brick-"))
    assert brick_units == sorted(f"gd2-brick-sv-{gd2.address}:-bricks-b{i}.service".replace(
        "-bricks-", "-" + str(brick_fs).strip("/").replace("-", "\\x2d").replace("/", "-") + "-")
        for i in (0, 1)), units
    assert "gd2-shd-sv.service" in units, "the self-heal daemon is a unit too"
    assert all(len(pids) == 1 for pids in units.values()), units
    gd2.ctl("volume", "stop", "sv", check=True)
    deadline = time.monotonic() + 10
    while namespace.units_in() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert namespace.units_in() == [], "stopped volumes leave no units behind"
    for pids in units.values():
        assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_a_killed_brick_comes_back_signed_in(gd2: DaemonProcess, namespace: SystemdNamespace,
                                             brick_fs: Path) -> None:
    bricks = [f"{gd2.address}:{brick_fs / name}" for name in ("k0", "k1")]
    gd2.ctl("volume", "create", "kv", *bricks, "force", check=True)
    gd2.ctl("volume", "start", "kv", check=True)
    _wait(gd2, "kv", _online, "bricks online")
    before = _brick_units(namespace)
    victim_unit = sorted(before)[0]
    (victim,) = before[victim_unit]
    os.kill(victim, signal.SIGKILL)

    def restarted(status: dict[str, Any]) -> bool:
        pids = namespace.host_pids(victim_unit)
        return _online(status) and len(pids) == 1 and pids[0] != victim

    _wait(gd2, "kv", restarted, "the killed brick restarted and signed in")
    after = _brick_units(namespace)
    assert set(after) == set(before), "the same units, no extra ones"
    untouched = sorted(before)[1]
    assert after[untouched] == before[untouched], "the other brick was not touched"
    assert "daemon restarted" in gd2.stderr_path.read_text()
    gd2.ctl("volume", "stop", "kv", check=True)


def test_a_restarted_glusterd2_adopts_the_units(gd2: DaemonProcess, namespace: SystemdNamespace,
                                                brick_fs: Path) -> None:
    bricks = [f"{gd2.address}:{brick_fs / name}" for name in ("a0", "a1")]
    gd2.ctl("volume", "create", "av", *bricks, "force", check=True)
    gd2.ctl("volume", "start", "av", check=True)
    _wait(gd2, "av", _online, "bricks online")
    before = _brick_units(namespace)
    assert gd2.stop() == 0
    assert _brick_units(namespace) == before, "bricks outlive glusterd2"
    gd2.kill_leftover_etcd()
    gd2.start()
    status = _wait(gd2, "av", _online, "bricks signed in again")
    assert _brick_units(namespace) == before, "same processes, no duplicates"
    gd2.ctl("volume", "start", "av", "force", check=True)
    assert _brick_units(namespace) == before, "start force adopts too"
    assert all(b["pid"] for b in status["bricks"])
    gd2.ctl("volume", "stop", "av", check=True)


def test_forced_systemd_without_a_bus_is_a_clear_startup_error(
        daemon_factory: Callable[..., DaemonProcess], tmp_path: Path) -> None:
    gd2 = daemon_factory("--daemon-backend", "systemd", wait=False,
                         env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    assert gd2.process is not None
    assert gd2.process.wait(60) == 1
    assert f"cannot reach systemd on unix:path={tmp_path}/no-bus" in gd2.stderr_tail()
