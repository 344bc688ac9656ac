"""Shared fixtures: real etcd, real glusterd2 daemons on their own 127.0.0.x."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess
from gd2.testing.systemd_ns import SystemdNamespace

# Every daemon in a test session gets an address of its own, so nothing
# collides and no port lingers in TIME_WAIT for the next test.
# GD2_TEST_NET=N moves the whole session to 127.0.N.x, so that two test
# sessions (a developer's and a helper's, say) can run side by side.
TEST_NET = int(os.environ.get("GD2_TEST_NET", "0"))
_addresses = (f"127.0.{TEST_NET}.{n}" for n in itertools.count(11))


def next_address() -> str:
    address = next(_addresses)
    assert not address.endswith(".255"), "too many daemons in one test session"
    return address


def _required(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        pytest.fail(f"{program} is not installed: run the README's test command, which installs it")
    return path


@pytest.fixture(scope="session")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real etcd for the whole session, on its own address and ports."""
    binary = _required("etcd")
    datadir = tmp_path_factory.mktemp("etcd")
    address, client, peer = f"127.0.{TEST_NET}.2", 23790, 23800
    url = f"http://{address}:{client}"
    log = open(datadir / "etcd.log", "wb")  # noqa: SIM115 - closed after the process stops
    proc = subprocess.Popen([
        binary, "--name", "test", "--data-dir", str(datadir / "data"),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", f"http://{address}:{peer}",
        "--initial-advertise-peer-urls", f"http://{address}:{peer}",
        "--initial-cluster", f"test=http://{address}:{peer}", "--logger", "zap", "--log-outputs", "stderr",
    ], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as reply:
                    if b'"health":"true"' in reply.read():
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"test etcd did not start: {(datadir / 'etcd.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start real glusterd2 daemons; all are stopped (by PID) at the end of the test."""
    started: list[DaemonProcess] = []

    def start(*extra: str, name: str | None = None, wait: bool = True,
              address: str | None = None, env: dict[str, str] | None = None,
              launcher: list[str] | None = None) -> DaemonProcess:
        label = name or f"gd2-{len(started)}"
        daemon = DaemonProcess(tmp_path / label, address or next_address(), list(extra), env=env or {},
                               launcher=launcher or [])
        started.append(daemon)
        daemon.start(wait=wait)
        return daemon

    yield start
    for daemon in reversed(started):
        daemon.stop()
    _sweep(tmp_path)


def _sweep(root: Path) -> None:
    """Bricks and helper daemons outlive glusterd2 by design; a test that failed half-way may leave
    some. Stop (by PID) every process whose command line names this test's directory."""
    marker = str(root).encode()
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    leftovers.append(int(entry.name))
            except OSError:
                continue
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gd2(daemon_factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    """One glusterd2 with its own embedded etcd."""
    return daemon_factory()


@pytest.fixture
def systemd_ns(tmp_path: Path) -> Iterator[SystemdNamespace]:
    """A real systemd booted as PID 1 of a private namespace; powered off after the test."""
    _required("dbus-daemon")
    namespace = SystemdNamespace(tmp_path / "systemd")
    try:
        yield namespace.boot()
    finally:
        namespace.poweroff()


@pytest.fixture
def brick_fs(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs (it has trusted.* xattrs) for bricks that need no 'force'; unmounted after."""
    mountpoint = tmp_path / "brickfs"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "gd2-test-bricks", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
