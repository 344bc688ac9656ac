"""Which backend `daemon-backend = auto` picks, against a real systemd and against nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gd2.systemd import choose_backend, systemd_is_init
from gd2.systemd.detect import systemd_answers
from gd2.testing.systemd_ns import SystemdNamespace


def test_booted_with_systemd_means_run_systemd_system(tmp_path: Path) -> None:
    assert not systemd_is_init(tmp_path)
    (tmp_path / "systemd" / "system").mkdir(parents=True)
    assert systemd_is_init(tmp_path)


async def test_a_real_systemd_answers_and_nothing_does_not(systemd_ns: SystemdNamespace, tmp_path: Path) -> None:
    assert await systemd_answers(systemd_ns.bus_address)
    assert not await systemd_answers(f"unix:path={tmp_path}/no-bus")
    assert not await systemd_answers("unix:path=/dev/null")


async def test_forced_settings_are_taken_as_given() -> None:
    assert await choose_backend("process", "unix:path=/nonexistent") == "process"
    assert await choose_backend("systemd", "unix:path=/nonexistent") == "systemd"


async def test_auto_without_systemd_as_init_runs_processes(monkeypatch: pytest.MonkeyPatch,
                                                           systemd_ns: SystemdNamespace) -> None:
    # This machine's PID 1 is not systemd: even with a bus that answers, auto picks processes...
    monkeypatch.setattr("gd2.systemd.detect.systemd_is_init", lambda: False)
    assert await choose_backend("auto", systemd_ns.bus_address) == "process"
    # ...and with systemd as init and its bus answering, units.
    monkeypatch.setattr("gd2.systemd.detect.systemd_is_init", lambda: True)
    assert await choose_backend("auto", systemd_ns.bus_address) == "systemd"
    assert await choose_backend("auto", "unix:path=/nonexistent") == "process"
