"""etcd run by glusterd2 itself, as a supervised child process.

The child gets its own data directory under the local state dir and listens
on this node's address only, so several glusterd2s (one per 127.0.0.x) can
each run one on the same ports.  If it dies it is restarted with backoff; when
glusterd2 stops, it is stopped (SIGTERM, then SIGKILL) in a shielded scope so
cancellation can never leave an orphan holding the ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
import trio

from gd2.errors import Unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EtcdMember:
    """How this node's etcd member is started."""

    name: str
    address: str
    client_port: int
    peer_port: int
    datadir: Path
    logfile: Path
    pidfile: Path
    cluster_token: str
    binary: str = "etcd"
    # Raft timing for servers on one LAN: a fresh single member elects itself
    # in ~0.2 s instead of ~1 s with etcd's defaults (100/1000 ms).
    heartbeat_ms: int = 25
    election_ms: int = 250

    @property
    def client_url(self) -> str:
        return f"http://{self.address}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.address}:{self.peer_port}"

    def command(self) -> list[str]:
        """etcd's command line for a single-member cluster born on this node."""
        return [
            self.binary,
            "--name", self.name,
            "--data-dir", str(self.datadir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", f"{self.name}={self.peer_url}",
            "--initial-cluster-state", "new",
            "--initial-cluster-token", self.cluster_token,
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--enable-v2=false",
            "--heartbeat-interval", str(self.heartbeat_ms),
            "--election-timeout", str(self.election_ms),
        ]


async def etcd_is_healthy(address: str, port: int) -> bool:
    """One GET /health against etcd's client URL; False on any failure."""
    try:
        stream = await trio.open_tcp_stream(address, port)
    except OSError:
        return False
    async with stream:
        try:
            await stream.send_all(f"GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
            reply = b""
            while chunk := await stream.receive_some(4096):
                reply += chunk
        except (OSError, trio.BrokenResourceError):
            return False
    return reply.startswith(b"HTTP/1.") and b'"health":"true"' in reply


def stop_orphan(member: EtcdMember, grace: float) -> int | None:
    """Stop an etcd left running by a glusterd2 that was killed (SIGKILL, OOM).

    Only a process whose command line is etcd with our data directory is
    touched; returns its pid if one was stopped.
    """
    try:
        pid = int(member.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(member.datadir).encode() not in cmdline or not cmdline[0].endswith(b"etcd"):
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.02)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    return pid


def _child_env() -> dict[str, str]:
    # etcd speaks sd_notify itself: it must not tell systemd that *glusterd2* is ready.
    return {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line[:300] for line in text[-lines:])


async def _stop(process: trio.Process, grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; always reaps."""
    with trio.CancelScope(shield=True):
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


class EmbeddedEtcd:
    """Supervises one etcd child: start, wait healthy, restart on death, stop."""

    def __init__(
        self,
        member: EtcdMember,
        start_timeout: float,
        stop_grace: float = 10.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.member = member
        self._start_timeout = start_timeout
        self._stop_grace = stop_grace
        self._max_backoff = max_backoff
        self.pid: int | None = None
        self.restarts = 0

    async def _wait_healthy(self, process: trio.Process) -> None:
        with trio.move_on_after(self._start_timeout) as scope:
            while process.returncode is None:
                if await etcd_is_healthy(self.member.address, self.member.client_port):
                    return
                await trio.sleep(0.02)
        why = (
            f"exited with status {process.returncode}"
            if process.returncode is not None
            else f"was not healthy after {self._start_timeout:g}s"
            if scope.cancelled_caught
            else "stopped"
        )
        raise Unavailable(
            f"etcd on {self.member.client_url} {why}; last log lines: "
            f"{_tail(self.member.logfile) or '(none)'} (log: {self.member.logfile})"
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled.  ``started()`` once etcd first answers /health.

        A failure to become healthy the first time is raised (the daemon
        cannot serve without its store); later deaths are restarted.
        """
        self.member.datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
        orphan = await trio.to_thread.run_sync(stop_orphan, self.member, self._stop_grace)
        if orphan is not None:
            log.warning("stopped an etcd left over from a previous glusterd2", pid=orphan)
        backoff = 0.5
        first = True
        while True:
            # A local append-only log file: opening it cannot block for long.
            with open(self.member.logfile, "ab") as logfile:  # noqa: ASYNC230
                process = await trio.lowlevel.open_process(
                    self.member.command(), stdout=logfile, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True, env=_child_env(),
                )
            self.pid = process.pid
            started_at = trio.current_time()
            self.member.pidfile.write_text(f"{process.pid}\n")
            log.info("etcd started", pid=process.pid, client_url=self.member.client_url)
            try:
                if first:
                    await self._wait_healthy(process)
                    task_status.started()
                    first = False
                status = await process.wait()
            finally:
                await _stop(process, self._stop_grace)
                self.pid = None
            self.restarts += 1
            if trio.current_time() - started_at > 60:
                backoff = 0.5  # it ran fine for a while: this is a new failure, not a crash loop
            log.warning("etcd exited; restarting", status=status, in_seconds=backoff,
                        last_log=_tail(self.member.logfile))
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)


def etcd_binary_available(binary: str) -> bool:
    """True when ``binary`` resolves to an executable file."""
    if os.sep in binary:
        return os.access(binary, os.X_OK)
    return any(os.access(os.path.join(d, binary), os.X_OK) for d in os.environ.get("PATH", "").split(":"))
