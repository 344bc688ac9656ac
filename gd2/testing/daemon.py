"""Run real glusterd2 daemons (their console entry point) for tests and benchmarks.

Each daemon gets its own directories under ``workdir`` and its own
127.0.0.x address, so several run side by side like a small cluster.
Everything started here is stopped by PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def venv_bin(name: str) -> str:
    """A console script installed next to the running interpreter."""
    return str(Path(sys.executable).parent / name)


def http_over_unix(path: Path, method: str, target: str, body: Any = None,
                   timeout: float = 5.0) -> tuple[int, Any]:
    """A minimal HTTP/1.1 exchange on a Unix socket; returns (status, JSON body or None)."""
    data = b"" if body is None else json.dumps(body).encode()
    request = (f"{method} {target} HTTP/1.1\r\nHost: gd2\r\nConnection: close\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        payload = _dechunk(payload)
    return status, (json.loads(payload) if payload else None)


def _dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2:]
    return out


@dataclass
class DaemonProcess:
    """One glusterd2 with its own state, run and log directories."""

    workdir: Path
    address: str
    extra_args: list[str] = field(default_factory=list)
    rest_port: int = 24009
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of ours (DBUS_SYSTEM_BUS_ADDRESS, say)
    launcher: list[str] = field(default_factory=list)  # runs the daemon (["prlimit", "--nofile=…", "--"], say)
    umask: int = -1  # the daemon's umask (-1: ours)

    @property
    def statedir(self) -> Path:
        return self.workdir / "state"

    @property
    def rundir(self) -> Path:
        return self.workdir / "run"

    @property
    def logdir(self) -> Path:
        return self.workdir / "log"

    @property
    def socket_path(self) -> Path:
        return self.rundir / "gd2.sock"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "glusterd2.stderr"

    def command(self) -> list[str]:
        return [*self.launcher, venv_bin("glusterd2"), "--localstatedir", str(self.statedir),
                "--rundir", str(self.rundir), "--logdir", str(self.logdir), "--address", self.address,
                "--rest-port", str(self.rest_port), *self.extra_args]

    def start(self, wait: bool = True, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                            stdout=err, stderr=err, env={**os.environ, **self.env},
                                            umask=self.umask)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"glusterd2 exited with {self.process.returncode}: {self.stderr_tail()}")
            try:
                if http_over_unix(self.socket_path, "GET", "/ping", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"glusterd2 not ready after {timeout}s: {self.stderr_tail()}")

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit status."""
        if self.process is None:
            self.kill_leftover_etcd()
            return None
        proc, self.process = self.process, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.kill_leftover_etcd()
        return proc.returncode

    def etcd_pid(self) -> int | None:
        """The pid of this daemon's etcd child if it is running."""
        try:
            pid = int((self.rundir / "etcd.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.statedir).encode() in cmdline else None

    def kill_leftover_etcd(self) -> None:
        """After a crash test, the etcd child may outlive its daemon: stop it by PID."""
        pid = self.etcd_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the daemon alone (its etcd child is left, as after a crash)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def ctl(self, *args: str, check: bool = False, timeout: float = 60.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run gd2ctl against this daemon (its socket through GD2_SOCKET; ``env`` added)."""
        result = subprocess.run([venv_bin("gd2ctl"), *args],
                                capture_output=True, text=True, timeout=timeout, check=False,
                                env={**os.environ, "GD2_SOCKET": str(self.socket_path), **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"gd2ctl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def etcdctl(self, *args: str, address: str | None = None, timeout: float = 20.0,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """etcdctl against the etcd at ``address`` (default: this node's), over https with this node's
        certificate from its pool CA, as a member's glusterd2 connects."""
        tls = self.statedir / "tls"
        return subprocess.run(["etcdctl", "--endpoints", f"https://{address or self.address}:2379",
                               "--cacert", str(tls / "ca.pem"), "--cert", str(tls / "node.pem"),
                               "--key", str(tls / "node.key"), *args],
                              capture_output=True, text=True, timeout=timeout, check=check,
                              env={**os.environ, "ETCDCTL_API": "3"})

    def api(self, method: str, target: str, body: Any = None) -> tuple[int, Any]:
        return http_over_unix(self.socket_path, method, target, body)
