"""Shared fixtures: real etcd, real glusterd2 daemons on their own 127.0.0.x."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gd2.peer import pki
from gd2.store.tls import EtcdTLS
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


@pytest.fixture(scope="session")
def address_factory() -> Callable[[], str]:
    """For a test that starts programs itself: the next free 127.0.N.x of this session."""
    return next_address


def _required(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if path is None:
        pytest.fail(f"{program} is not installed: run the README's test command, which installs it")
    return path


def _start_etcd(binary: str, datadir: Path, address: str, client: int, peer: int,
                tls: list[str] | None = None) -> tuple[subprocess.Popen[bytes], Any]:
    scheme = "https" if tls else "http"
    url, peer_url = f"{scheme}://{address}:{client}", f"{scheme}://{address}:{peer}"
    log = open(datadir / "etcd.log", "wb")  # noqa: SIM115 - closed after the process stops
    proc = subprocess.Popen([
        binary, "--name", "test", "--data-dir", str(datadir / "data"),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"test={peer_url}", "--logger", "zap", "--log-outputs", "stderr", *(tls or []),
    ], stdout=log, stderr=log)
    return proc, log


def _stop_etcd(proc: subprocess.Popen[bytes], log: Any) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _wait_healthy(proc: subprocess.Popen[bytes], datadir: Path, url: str,
                  context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1, context=context) as reply:
                if b'"health":"true"' in reply.read():
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"test etcd did not start: {(datadir / 'etcd.log').read_text()[-2000:]}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def etcd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real etcd for the whole session, on its own address and ports: plain http, no client
    certificates (what an admin must allow explicitly with etcd-allow-http)."""
    binary = _required("etcd")
    datadir = tmp_path_factory.mktemp("etcd")
    address, client, peer = f"127.0.{TEST_NET}.2", 23790, 23800
    url = f"http://{address}:{client}"
    proc, log = _start_etcd(binary, datadir, address, client, peer)
    try:
        _wait_healthy(proc, datadir, url)
        yield url
    finally:
        _stop_etcd(proc, log)


@dataclass(frozen=True)
class TLSEtcd:
    """An etcd of the session with https on both URLs, client certificates required."""

    url: str
    client: EtcdTLS  # a client certificate of etcd's CA, and that CA
    foreign: EtcdTLS  # etcd's CA, but a client certificate of another CA
    other_ca: Path  # a CA that did not sign etcd's certificate


def _pki_files(directory: Path, ca: pki.CertifiedKey, name: str, address: str) -> EtcdTLS:
    own = pki.issue_node_cert(ca, name, [address])
    directory.mkdir(parents=True)
    pki.save_tls(directory, pki.TLSMaterial(ca_cert=ca.cert, node_cert=own.cert, node_key=own.key))
    return EtcdTLS(directory / pki.CA_FILE, directory / pki.NODE_CERT_FILE, directory / pki.NODE_KEY_FILE)


@pytest.fixture(scope="session")
def etcd_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSEtcd]:
    """A real etcd as an admin would run it for glusterd2: https, client certificates of its CA."""
    binary = _required("etcd")
    datadir = tmp_path_factory.mktemp("etcd-tls")
    address, client, peer = f"127.0.{TEST_NET}.3", 23790, 23800
    ca, stranger = pki.create_ca("etcd-test"), pki.create_ca("someone else")
    server = _pki_files(datadir / "server", ca, "etcd", address)
    client_tls = _pki_files(datadir / "client", ca, "gd2-client", address)
    foreign = _pki_files(datadir / "foreign", stranger, "gd2-client", address)
    flags = ["--cert-file", str(server.cert_file), "--key-file", str(server.key_file),
             "--trusted-ca-file", str(server.ca_file), "--client-cert-auth",
             "--peer-cert-file", str(server.cert_file), "--peer-key-file", str(server.key_file),
             "--peer-trusted-ca-file", str(server.ca_file), "--peer-client-cert-auth"]
    assert foreign.ca_file is not None
    proc, log = _start_etcd(binary, datadir, address, client, peer, flags)
    try:
        url = f"https://{address}:{client}"
        _wait_healthy(proc, datadir, url, client_tls.ssl_context())
        yield TLSEtcd(url, client_tls, EtcdTLS(server.ca_file, foreign.cert_file, foreign.key_file),
                      foreign.ca_file)
    finally:
        _stop_etcd(proc, log)


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start real glusterd2 daemons; all are stopped (by PID) at the end of the test."""
    started: list[DaemonProcess] = []

    def start(*extra: str, name: str | None = None, wait: bool = True,
              address: str | None = None, env: dict[str, str] | None = None,
              launcher: list[str] | None = None, umask: int = -1) -> DaemonProcess:
        label = name or f"gd2-{len(started)}"
        daemon = DaemonProcess(tmp_path / label, address or next_address(), list(extra), env=env or {},
                               launcher=launcher or [], umask=umask)
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
