"""etcd run by glusterd2 itself, as a supervised child process.

The child gets its own data directory under the local state dir (0700) and
listens on this node's address only, so several glusterd2s (one per
127.0.0.x) can each run one on the same ports.  Both its client and its peer
URLs are https and require a client certificate from the pool CA
(gd2.store.tls): etcd holds the CA's private key.  Its command line names only
files, and its log (0600) is written by us.  If it dies it is restarted with backoff; when
glusterd2 stops, it is stopped (SIGTERM, then SIGKILL) in a shielded scope so
cancellation can never leave an orphan holding the ports.

A member is either the first of a new cluster (``initial_state="new"``) or
joins a running one (``"existing"``, after ``EtcdStore.add_member`` and
:func:`reset_datadir`).  Once its data directory holds a member, etcd ignores
the ``initial_*`` flags: a restart just rejoins the cluster it knows.

Readiness: a single member is "started" once /health is true.  A member of a
multi-member cluster cannot be healthy before a quorum of members runs (after
a whole-pool restart the first node up waits for a second), and etcd 3.4 does
not even answer on its client port until then, although it listens.  So with
``run(need_quorum=False)`` it counts as started once the etcd process listens
on its client port; :meth:`EmbeddedEtcd.wait_quorum` waits for the rest.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog
import trio

from gd2.errors import Conflict, Unavailable
from gd2.store.membership import MemberRemoved, initial_cluster_string
from gd2.store.tls import EtcdTLS

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
    # The node's certificate and key from the pool CA, and that CA: etcd serves with the certificate on
    # both URLs and accepts only clients and peers with a certificate from the CA.
    tls: EtcdTLS
    binary: str = "etcd"
    # Raft timing for servers on one LAN: a fresh single member elects itself
    # in ~0.2 s instead of ~1 s with etcd's defaults (100/1000 ms).  Three
    # members on one loopback, two cores, under the test suite's load stay
    # stable with it too (no leader change while all run).
    heartbeat_ms: int = 25
    election_ms: int = 250
    # Who is in the cluster when this member first starts: name -> peer URL(s),
    # or etcd's own "name=url,..." string.  None: this member alone.
    initial_cluster: Mapping[str, str | Sequence[str]] | str | None = None
    # "new": found a cluster; "existing": join one that already has this member
    # added (its data dir must be fresh: see reset_datadir).
    initial_state: Literal["new", "existing"] = "new"

    def __post_init__(self) -> None:
        if self.tls.ca_file is None or self.tls.cert_file is None:
            raise ValueError("etcd's TLS needs a CA file and a certificate with its key")

    @property
    def client_url(self) -> str:
        return f"https://{self.address}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"https://{self.address}:{self.peer_port}"

    def initial_cluster_arg(self) -> str:
        """The ``--initial-cluster`` value."""
        if self.initial_cluster is None:
            return f"{self.name}={self.peer_url}"
        if isinstance(self.initial_cluster, str):
            return self.initial_cluster
        return initial_cluster_string(self.initial_cluster)

    def has_data(self) -> bool:
        """True when the data dir holds a member: etcd will rejoin its cluster, ignoring initial_*."""
        return (self.datadir / "member" / "wal").is_dir()

    def command(self) -> list[str]:
        """etcd's command line for this member (file names only: it is readable in /proc)."""
        ca, cert, key = str(self.tls.ca_file), str(self.tls.cert_file), str(self.tls.key_file)
        return [
            self.binary,
            "--name", self.name,
            "--data-dir", str(self.datadir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster_arg(),
            "--initial-cluster-state", self.initial_state,
            "--initial-cluster-token", self.cluster_token,
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--enable-v2=false",
            "--heartbeat-interval", str(self.heartbeat_ms),
            "--election-timeout", str(self.election_ms),
            # A member that was cut off (or restarted alone) asks before
            # campaigning, so it cannot depose a healthy leader on return.
            "--pre-vote",
            # Clients (glusterd2, etcdctl) and peers alike need a certificate from the pool CA.
            "--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth",
            "--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca,
            "--peer-client-cert-auth",
            # etcd would also want a peer's source address among its certificate's IP addresses: on a
            # multi-homed server (or 127.0.0.x, which connects from 127.0.0.1) it is not.  The
            # certificate must still come from the pool CA.
            "--experimental-peer-skip-client-san-verification",
        ]


async def etcd_is_healthy(address: str, port: int, context: ssl.SSLContext) -> bool:
    """One GET /health against etcd's https client URL (``context``: our client certificate and the CA);
    False on any failure."""
    try:
        tcp = await trio.open_tcp_stream(address, port)
    except OSError:
        return False
    stream = trio.SSLStream(tcp, context, server_hostname=address, https_compatible=True)
    reply = b""
    try:
        await stream.send_all(f"GET /health HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        while chunk := await stream.receive_some(4096):
            reply += chunk
    except (OSError, trio.BrokenResourceError):
        return False
    finally:
        with trio.CancelScope(shield=True):
            await tcp.aclose()  # no TLS goodbye: the reply is in, or the handshake failed
    return reply.startswith(b"HTTP/1.") and b'"health":"true"' in reply


def _running_pid(member: EtcdMember) -> int | None:
    """The pid of an etcd running on ``member``'s data directory, from its pidfile."""
    try:
        pid = int(member.pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if str(member.datadir).encode() not in cmdline or not cmdline[0].endswith(b"etcd"):
        return None
    return pid


def stop_orphan(member: EtcdMember, grace: float) -> int | None:
    """Stop an etcd left running by a glusterd2 that was killed (SIGKILL, OOM).

    Only a process whose command line is etcd with our data directory is
    touched; returns its pid if one was stopped.
    """
    pid = _running_pid(member)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.02)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
    return pid


def reset_datadir(member: EtcdMember) -> None:
    """Empty ``member``'s data directory before it joins a cluster as a new member.

    etcd joins with ``initial_state="existing"`` only from an empty data dir,
    and a member that was removed cannot rejoin with its old one.  Never done
    implicitly: on a normal restart the data dir *is* the member.  Refused
    (Conflict) while an etcd runs on it.
    """
    pid = _running_pid(member)
    if pid is not None:
        raise Conflict(f"etcd (pid {pid}) is running on {member.datadir}; stop it before resetting its data")
    shutil.rmtree(member.datadir, ignore_errors=True)
    _private_dir(member.datadir)


def _private_dir(path: Path) -> None:
    """``path`` as a directory only root can enter (etcd's data is the pool's store: the CA key too)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask and ignored for an existing directory


def _open_log(path: Path) -> int:
    """etcd's log file for appending, 0600 whatever the umask (it names clients, files, members)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _listening_inodes(address: str, port: int) -> set[str]:
    """Socket inodes listening on address:port (IPv4, from /proc/net/tcp)."""
    packed = ipaddress.IPv4Address(address).packed
    local = f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
    inodes: set[str] = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            if fields[1] == local and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def process_listens(pid: int, address: str, port: int) -> bool:
    """True when process ``pid`` holds a socket listening on address:port.

    Not "something answers on the port": that could be another program
    holding it, while our etcd is about to exit with "address in use".
    """
    try:
        wanted = {f"socket:[{inode}]" for inode in _listening_inodes(address, port)}
        fds = os.listdir(f"/proc/{pid}/fd") if wanted else []
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
        except OSError:
            continue  # closed meanwhile (or listdir's own descriptor)
    return False


def _child_env() -> dict[str, str]:
    # etcd speaks sd_notify itself: it must not tell systemd that *glusterd2* is ready.
    return {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line[:300] for line in text[-lines:])


def _log_since(path: Path, offset: int, limit: int = 1 << 20) -> str:
    """What the log file gained since ``offset`` (its last ``limit`` bytes)."""
    try:
        with open(path, "rb") as log_file:
            size = log_file.seek(0, os.SEEK_END)
            log_file.seek(max(offset, size - limit))
            return log_file.read().decode(errors="replace")
    except OSError:
        return ""


def _log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# What etcd 3.4 logs (then exits 0) when it finds it was removed from the cluster.
_REMOVED = "the member has been permanently removed from the cluster"


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
    """Supervises one etcd child: start, wait ready, restart on death, stop."""

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
        self._context: ssl.SSLContext | None = None

    def _probe_context(self) -> ssl.SSLContext:
        # Made once the files exist (they are made or replaced before etcd starts).
        if self._context is None:
            self._context = self.member.tls.ssl_context()
        return self._context

    def _removed_or_unavailable(self, process: trio.Process, why: str, log_offset: int) -> Unavailable:
        if process.returncode == 0 and _REMOVED in _log_since(self.member.logfile, log_offset):
            return MemberRemoved(
                f"etcd member {self.member.name} ({self.member.peer_url}) was removed from the etcd cluster; "
                f"its data dir {self.member.datadir} must be reset before it can join again"
            )
        return Unavailable(
            f"etcd on {self.member.client_url} {why}; last log lines: "
            f"{_tail(self.member.logfile) or '(none)'} (log: {self.member.logfile})"
        )

    async def _wait_ready(self, process: trio.Process, need_quorum: bool, log_offset: int) -> None:
        address, port = self.member.address, self.member.client_port
        with trio.move_on_after(self._start_timeout) as scope:
            async with trio.open_nursery() as nursery:
                # A probe may hang (etcd 3.4 accepts connections before it
                # serves them), so the process is watched beside it.
                nursery.start_soon(_cancel_when_exits, process, nursery.cancel_scope)
                while process.returncode is None:
                    if await etcd_is_healthy(address, port, self._probe_context()) if need_quorum else \
                            await _listens(process.pid, address, port):
                        nursery.cancel_scope.cancel()
                        return
                    await trio.sleep(0.02)
        why = (
            f"exited with status {process.returncode}"
            if process.returncode is not None
            else f"was not {'healthy' if need_quorum else 'listening'} after {self._start_timeout:g}s"
            if scope.cancelled_caught
            else "stopped"
        )
        raise self._removed_or_unavailable(process, why, log_offset)

    async def wait_quorum(self) -> None:
        """Return once this member answers /health true: it is in a cluster with a leader.

        No deadline of its own: the caller wraps it (``trio.fail_after``).
        """
        while True:
            if await etcd_is_healthy(self.member.address, self.member.client_port, self._probe_context()):
                return
            await trio.sleep(0.05)

    async def run(
        self, *, need_quorum: bool = True, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled.  ``started()`` once etcd first answers /health true
        (``need_quorum``), or once the etcd process listens on its client port.

        A failure to become ready the first time is raised (the daemon cannot
        serve without its store); later deaths are restarted.  A member that
        was removed from the cluster is not restarted: :class:`MemberRemoved`
        is raised.
        """
        _private_dir(self.member.datadir)
        orphan = await trio.to_thread.run_sync(stop_orphan, self.member, self._stop_grace)
        if orphan is not None:
            log.warning("stopped an etcd left over from a previous glusterd2", pid=orphan)
        backoff = 0.5
        first = True
        while True:
            log_offset = _log_size(self.member.logfile)
            # A local append-only log file: opening it cannot block for long.
            logfile = _open_log(self.member.logfile)
            try:
                process = await trio.lowlevel.open_process(
                    self.member.command(), stdout=logfile, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True, env=_child_env(),
                )
            finally:
                os.close(logfile)
            self.pid = process.pid
            started_at = trio.current_time()
            self.member.pidfile.write_text(f"{process.pid}\n")
            log.info("etcd started", pid=process.pid, client_url=self.member.client_url,
                     initial_state=self.member.initial_state, has_data=self.member.has_data())
            try:
                if first:
                    await self._wait_ready(process, need_quorum, log_offset)
                    task_status.started()
                    first = False
                status = await process.wait()
            finally:
                await _stop(process, self._stop_grace)
                self.pid = None
            failure = self._removed_or_unavailable(process, f"exited with status {status}", log_offset)
            if isinstance(failure, MemberRemoved):
                log.warning("etcd member was removed from the cluster; not restarting it",
                            name=self.member.name, peer_url=self.member.peer_url)
                raise failure
            self.restarts += 1
            if trio.current_time() - started_at > 60:
                backoff = 0.5  # it ran fine for a while: this is a new failure, not a crash loop
            log.warning("etcd exited; restarting", status=status, in_seconds=backoff,
                        last_log=_tail(self.member.logfile))
            await trio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)


async def _listens(pid: int, address: str, port: int) -> bool:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        # Not in /proc/net/tcp (IPv6, a name): settle for "something accepts".
        try:
            stream = await trio.open_tcp_stream(address, port)
        except OSError:
            return False
        await stream.aclose()
        return True
    return process_listens(pid, address, port)


async def _cancel_when_exits(process: trio.Process, scope: trio.CancelScope) -> None:
    await process.wait()
    scope.cancel()


def etcd_binary_available(binary: str) -> bool:
    """True when ``binary`` resolves to an executable file."""
    if os.sep in binary:
        return os.access(binary, os.X_OK)
    return any(os.access(os.path.join(d, binary), os.X_OK) for d in os.environ.get("PATH", "").split(":"))
