"""glusterd2 against the real glusterd1 (Debian glusterfs-server 10.3): CLI latency, start-up, memory.

Run as root from the repository root, with glusterd2 installed in the venv whose python runs this:

    .venv/bin/python bench/bench_foundation.py [--runs 15] [--starts 5] [--only gd1|gd2]

Method (both daemons are measured in the same run, on loopback only, glusterd1 on 127.0.0.81 and
glusterd2 on 127.0.0.82; every daemon gets a fresh directory under one `mkdtemp` in /var/tmp):

1. Start-to-ready: the time from just before the daemon is exec'd until its own CLI first answers
   `volume list` with exit status 0. The CLI is run again 10 ms after each failed try, for at most
   30 s. Each try includes one CLI call, so the CLI's own cost is in both figures. Median of
   `--starts` fresh starts (5 by default); the two daemons take turns.
2. RSS: VmRSS from /proc/PID/status in MiB, `--settle` seconds after each of those starts (idle;
   median) and after `volume create v1 ADDRESS:<dir>/b1 force` on a long-lived node (1 sample).
   For glusterd2 the etcd child it supervises is reported on its own row and in the total
   (daemon + all its descendants), which is the honest figure to compare with glusterd1.
3. CLI latency: `volume info v1` on a pool of one node with one volume, timed around the whole
   CLI process (fork, exec, connect, answer, exit) with `time.perf_counter_ns`. One untimed call
   each first, then `--runs` calls (15 by default); the two CLIs take turns; median.

The ratio is glusterd2 / glusterd1; targets: CLI ≤ 0.8x, start-to-ready ≤ 0.5x.

Hygiene: everything started is stopped by PID (SIGTERM, up to 10 s, then SIGKILL), its descendants
too, and then every process whose command line names the temp dir (bricks, if any). The temp dir is
removed at the end (`--keep` keeps it), and so are glusterd1's side effects outside it
(see `_glusterd1.DefaultPathGuard`). Python stdlib only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from _glusterd1 import GLUSTER, GLUSTERD, DefaultPathGuard, Glusterd1Node

STOP_GRACE_S = 10.0
CLI_TIMEOUT_S = 60.0
GD2_PORTS = {"sunrpc": 24007, "peer": 24008, "rest": 24009, "etcd-client": 2379, "etcd-peer": 2380}
GD1_PORTS = {"glusterd": 24007}
TARGET_CLI = 0.8
TARGET_START = 0.5


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and where to look."""


def progress(message: str) -> None:
    """One line on stderr, so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# --- the two daemons ---------------------------------------------------------------------------


class Node(Protocol):
    """One management daemon with all its state under `root` and the CLI that talks to it."""

    @property
    def name(self) -> str: ...
    @property
    def root(self) -> Path: ...
    @property
    def address(self) -> str: ...
    def prepare(self) -> None: ...
    def daemon_argv(self) -> list[str]: ...
    def cli_argv(self, *args: str) -> list[str]: ...
    def brick(self, name: str) -> str: ...


@dataclass(frozen=True)
class Glusterd2Node:
    """One glusterd2 (with its own etcd child) under `root`, on `address`, driven by gd2ctl."""

    root: Path
    address: str
    glusterd2: str
    gd2ctl: str
    name: str = "glusterd2"
    extra: tuple[str, ...] = ()  # more glusterd2 flags (--daemon-backend systemd, say)

    @property
    def socket(self) -> Path:
        return self.root / "run" / "gd2.sock"

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # glusterd2 creates its own state/run/log dirs

    def daemon_argv(self) -> list[str]:
        return [
            self.glusterd2,
            "--localstatedir", str(self.root / "state"), "--rundir", str(self.root / "run"),
            "--logdir", str(self.root / "log"), "--address", self.address,
            "--sunrpc-port", str(GD2_PORTS["sunrpc"]), "--peer-port", str(GD2_PORTS["peer"]),
            "--rest-port", str(GD2_PORTS["rest"]), "--etcd-client-port", str(GD2_PORTS["etcd-client"]),
            "--etcd-peer-port", str(GD2_PORTS["etcd-peer"]), *self.extra,
        ]  # fmt: skip

    def cli_argv(self, *args: str) -> list[str]:
        return [self.gd2ctl, "--socket", str(self.socket), *args]

    def brick(self, name: str) -> str:
        return f"{self.address}:{self.root / name}"


@dataclass(frozen=True)
class Side:
    """How to make fresh nodes of one daemon: `make(root)` → Node."""

    key: str  # "gd1" | "gd2"
    address: str
    ports: dict[str, int]
    glusterd2: str = ""
    gd2ctl: str = ""
    glusterd: str = GLUSTERD
    gluster: str = GLUSTER
    extra: tuple[str, ...] = ()  # more glusterd2 flags

    def make(self, root: Path) -> Node:
        if self.key == "gd1":
            return Glusterd1Node(root, self.address, self.glusterd, self.gluster)
        return Glusterd2Node(root, self.address, self.glusterd2, self.gd2ctl, extra=self.extra)


# --- processes ---------------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a live process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _proc_text(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, breadth first."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        stat = _proc_stat(other)
        if stat is not None:
            children.setdefault(stat[1], []).append(other)
    found: list[int] = []
    queue = list(children.get(pid, []))
    while queue:  # bounded: /proc is a finite tree
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, []))
    return [p for p in found if _alive(p)]


def pids_naming(text: str) -> list[int]:
    """Live processes (not this one) whose command line contains `text`."""
    return [pid for pid in _all_pids() if pid != os.getpid() and text in _proc_text(pid, "cmdline") and _alive(pid)]


def stop_pid(pid: int, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM, wait up to `grace_s` for the process to end, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.01)


def stop_daemon(proc: subprocess.Popen[bytes]) -> None:
    """Stop a daemon we started, then any of its descendants that outlived it (etcd, gsyncd)."""
    below = descendants(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_GRACE_S)
    for pid in below:
        stop_pid(pid)


def vm_rss_mib(pid: int) -> float | None:
    """VmRSS in MiB, None if the process is gone (or a zombie)."""
    for line in _proc_text(pid, "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def ports_free(address: str, ports: dict[str, int]) -> None:
    """Fail early and clearly if something already listens where a daemon will."""
    for what, port in ports.items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                raise BenchError(f"{address}:{port} ({what}) is not free: {exc.strerror}") from None


class Processes:
    """Every daemon started by the run; `close()` stops them all, newest first."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, node: Node) -> tuple[subprocess.Popen[bytes], int]:
        """exec the node's daemon; returns it and the perf_counter_ns taken just before."""
        node.prepare()
        with open(node.root / "daemon.out", "wb") as out:
            t0 = time.perf_counter_ns()
            proc = subprocess.Popen(node.daemon_argv(), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(proc)
        return proc, t0

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        stop_daemon(proc)
        self.running.remove(proc)

    def close(self) -> None:
        for proc in reversed(list(self.running)):
            self.stop(proc)
        for pid in pids_naming(str(self.tmp)):  # bricks or helpers that were reparented
            stop_pid(pid)


# --- CLI calls ---------------------------------------------------------------------------------


def run_cli(node: Node, *args: str, timeout_s: float = CLI_TIMEOUT_S) -> tuple[int, float, str]:
    """(exit status, wall ms, stderr) of one CLI process."""
    t0 = time.perf_counter_ns()
    try:
        done = subprocess.run(node.cli_argv(*args), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return -1, (time.perf_counter_ns() - t0) / 1e6, f"timed out after {timeout_s:g}s"
    return done.returncode, (time.perf_counter_ns() - t0) / 1e6, done.stderr.decode(errors="replace").strip()


def run_cli_ok(node: Node, *args: str) -> float:
    rc, ms, err = run_cli(node, *args)
    if rc != 0:
        raise BenchError(f"{node.name}: `{' '.join(args)}` exited {rc}: {err or '(no stderr)'}")
    return ms


def wait_ready(node: Node, proc: subprocess.Popen[bytes], t0: int, deadline_s: float, poll_s: float) -> float:
    """ms from `t0` until `volume list` exits 0; polls every `poll_s` until `deadline_s` after t0."""
    deadline = t0 + int(deadline_s * 1e9)
    last = ""
    while time.perf_counter_ns() < deadline:
        remaining = (deadline - time.perf_counter_ns()) / 1e9
        rc, _, last = run_cli(node, "volume", "list", timeout_s=max(remaining, 0.1))
        if rc == 0:
            return (time.perf_counter_ns() - t0) / 1e6
        if proc.poll() is not None:
            raise BenchError(f"{node.name} exited with {proc.returncode} before it was ready ({last})")
        time.sleep(poll_s)
    raise BenchError(f"{node.name} not ready after {deadline_s:g}s (last CLI error: {last})")


# --- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rss:
    daemon: float
    etcd: float | None  # None: no etcd child (glusterd1)
    total: float  # daemon + every descendant


@dataclass
class SideResult:
    start_ms: list[float] = field(default_factory=list)
    idle: list[Rss] = field(default_factory=list)
    with_volume: Rss | None = None
    info_ms: list[float] = field(default_factory=list)


def measure_rss(pid: int) -> Rss:
    """The daemon's RSS, its etcd child's, and the sum over the daemon and all its descendants."""
    own = vm_rss_mib(pid)
    if own is None:
        raise BenchError(f"pid {pid} ended before its RSS was read")
    below = {p: vm_rss_mib(p) for p in descendants(pid)}
    etcd = [rss for p, rss in below.items() if rss is not None and _proc_text(p, "comm") == "etcd"]
    return Rss(daemon=own, etcd=sum(etcd) if etcd else None,
               total=own + sum(rss for rss in below.values() if rss is not None))


@dataclass(frozen=True)
class Settings:
    runs: int
    starts: int
    ready_timeout_s: float
    poll_s: float
    settle_s: float


def one_start(procs: Processes, node: Node, settings: Settings, result: SideResult) -> None:
    """A fresh daemon: time to ready, idle RSS after settling, then stop it."""
    proc, t0 = procs.start(node)
    try:
        result.start_ms.append(wait_ready(node, proc, t0, settings.ready_timeout_s, settings.poll_s))
        time.sleep(settings.settle_s)
        result.idle.append(measure_rss(proc.pid))
    finally:
        procs.stop(proc)


def bring_up_pool(procs: Processes, node: Node, settings: Settings, result: SideResult) -> None:
    """A long-lived node with volume v1 (not started); RSS after the create."""
    proc, t0 = procs.start(node)
    wait_ready(node, proc, t0, settings.ready_timeout_s, settings.poll_s)
    run_cli_ok(node, "volume", "create", "v1", node.brick("b1"), "force")
    time.sleep(settings.settle_s)
    result.with_volume = measure_rss(proc.pid)


def run_all(sides: Sequence[Side], tmp: Path, settings: Settings) -> dict[str, SideResult]:
    results = {side.key: SideResult() for side in sides}
    procs = Processes(tmp)
    try:
        for side in sides:
            ports_free(side.address, side.ports)
        for i in range(settings.starts):
            for side in sides:
                one_start(procs, side.make(tmp / f"{side.key}-start{i + 1}"), settings, results[side.key])
                progress(f"{side.key} fresh start {i + 1}/{settings.starts}: ready after "
                         f"{results[side.key].start_ms[-1]:.0f} ms")
        pool = {side.key: side.make(tmp / side.key) for side in sides}
        for side in sides:
            bring_up_pool(procs, pool[side.key], settings, results[side.key])
            progress(f"{side.key} pool up with volume v1; timing `volume info v1`")
        for node in pool.values():
            run_cli_ok(node, "volume", "info", "v1")  # untimed warm-up
        for _ in range(settings.runs):
            for side in sides:
                results[side.key].info_ms.append(run_cli_ok(pool[side.key], "volume", "info", "v1"))
    finally:
        procs.close()
    return results


# --- report ------------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _row(what: str, gd1: float | None, gd2: float | None, target: float | None) -> str:
    ratio = gd2 / gd1 if gd1 and gd2 is not None else None
    met = "—" if ratio is None or target is None else ("yes" if ratio <= target else "no")
    return (f"| {what} | {_fmt(gd1)} | {_fmt(gd2)} | {'—' if ratio is None else f'{ratio:.2f}x'} | "
            f"{'—' if target is None else f'≤ {target:g}x'} | {met} |")


def table(results: dict[str, SideResult], settings: Settings) -> list[str]:
    gd1, gd2 = results.get("gd1", SideResult()), results.get("gd2", SideResult())

    def idle(r: SideResult, pick: str) -> float | None:
        values = [getattr(x, pick) for x in r.idle if getattr(x, pick) is not None]
        return _median(values)

    def vol(r: SideResult, pick: str) -> float | None:
        return None if r.with_volume is None else getattr(r.with_volume, pick)

    n = f"N={settings.starts}"
    return [
        "| measurement | glusterd1 | glusterd2 | ratio | target | met? |",
        "|---|---|---|---|---|---|",
        _row(f"CLI `volume info v1`, 1 volume (ms, median N={settings.runs})",
             _median(gd1.info_ms), _median(gd2.info_ms), TARGET_CLI),
        _row(f"exec → CLI `volume list` exits 0 (ms, median {n})",
             _median(gd1.start_ms), _median(gd2.start_ms), TARGET_START),
        _row(f"RSS idle, daemon process (MiB, median {n})", idle(gd1, "daemon"), idle(gd2, "daemon"), None),
        _row(f"RSS idle, etcd child (MiB, median {n})", None, idle(gd2, "etcd"), None),
        _row(f"RSS idle, daemon + children (MiB, median {n})", idle(gd1, "total"), idle(gd2, "total"), None),
        _row("RSS with v1 created, daemon process (MiB)", vol(gd1, "daemon"), vol(gd2, "daemon"), None),
        _row("RSS with v1 created, etcd child (MiB)", None, vol(gd2, "etcd"), None),
        _row("RSS with v1 created, daemon + children (MiB)", vol(gd1, "total"), vol(gd2, "total"), None),
    ]


def samples(results: dict[str, SideResult]) -> list[str]:
    lines = []
    for key, r in results.items():
        lines.append(f"- {key} start-to-ready ms: {' '.join(f'{v:.0f}' for v in r.start_ms)}")
        lines.append(f"- {key} `volume info` ms: {' '.join(f'{v:.0f}' for v in r.info_ms)}")
    return lines


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, timeout=30, check=False).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return out.splitlines()[0].strip() if out.strip() else "unknown"


# --- entry point -------------------------------------------------------------------------------


def _next_to_python(name: str) -> str:
    """The console script `name` in this interpreter's bin dir (a venv's), else on PATH."""
    beside = Path(sys.executable).parent / name  # not resolved: a venv's python is a symlink
    return str(beside) if beside.exists() else (shutil.which(name) or str(beside))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=15, help="timed `volume info` calls per daemon")
    p.add_argument("--starts", type=int, default=5, help="fresh daemon starts per daemon")
    p.add_argument("--only", choices=("gd1", "gd2"), help="run one half only")
    p.add_argument("--gd1-address", default="127.0.0.81")
    p.add_argument("--gd2-address", default="127.0.0.82")
    p.add_argument("--glusterd", default=GLUSTERD)
    p.add_argument("--gluster", default=GLUSTER)
    p.add_argument("--glusterd2", default=_next_to_python("glusterd2"))
    p.add_argument("--gd2ctl", default=_next_to_python("gd2ctl"))
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for a daemon")
    p.add_argument("--poll-interval", type=float, default=0.010, help="seconds between readiness tries")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading RSS")
    p.add_argument("--tmp-parent", default="/var/tmp", help="where the temp dir goes (needs xattrs)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs) at the end")
    args = p.parse_args(argv)
    if args.runs < 1 or args.starts < 1:
        p.error("--runs and --starts must be at least 1")
    return args


def build_sides(args: argparse.Namespace) -> list[Side]:
    sides = []
    if args.only in (None, "gd1"):
        for tool in (args.glusterd, args.gluster):
            if not os.access(tool, os.X_OK):
                raise BenchError(f"{tool} not found (install glusterfs-server)")
        sides.append(Side("gd1", args.gd1_address, GD1_PORTS, glusterd=args.glusterd, gluster=args.gluster))
    if args.only in (None, "gd2"):
        for tool in (args.glusterd2, args.gd2ctl):
            if not os.access(tool, os.X_OK):
                raise BenchError(f"{tool} not found (install glusterd2 in this venv, or pass --glusterd2/--gd2ctl)")
        sides.append(Side("gd2", args.gd2_address, GD2_PORTS, glusterd2=args.glusterd2, gd2ctl=args.gd2ctl))
    return sides


def header(args: argparse.Namespace, sides: Sequence[Side], load_start: str) -> list[str]:
    lines = [
        "# bench_foundation: glusterd2 vs glusterd1",
        "",
        f"- date (UTC) {datetime.now(UTC):%Y-%m-%d %H:%M}; kernel {platform.release()}; {os.cpu_count()} CPUs",
        f"- loadavg at start {load_start}",
    ]
    for side in sides:
        if side.key == "gd1":
            lines.append(f"- glusterd1: {_version([side.glusterd, '--version'])} on {side.address}")
        else:
            lines.append(f"- glusterd2: {_version([side.glusterd2, '--version'])} on {side.address} "
                         f"({side.glusterd2})")
    return lines


@contextmanager
def temp_root(parent: str, keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="gd2bench-", dir=parent))
    try:
        yield root
    finally:
        if keep:
            print(f"\nkept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def _print_logs(root: Path) -> None:
    """The tails of the daemons' logs, so a failure explains itself even without --keep."""
    for pattern in ("*/daemon.out", "*/log/glusterd.log", "*/log/etcd.log"):
        for path in sorted(root.glob(pattern)):
            tail = path.read_text(errors="replace").splitlines()[-10:]
            if tail:
                print(f"--- last lines of {path}:", *tail, sep="\n", file=sys.stderr)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the daemons


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = Settings(args.runs, args.starts, args.ready_timeout, args.poll_interval, args.settle)
    try:
        sides = build_sides(args)
    except BenchError as exc:
        print(f"bench_foundation: {exc}", file=sys.stderr)
        return 2
    load_start = _loadavg()
    guard = DefaultPathGuard() if any(side.key == "gd1" for side in sides) else None
    status = 0
    with temp_root(args.tmp_parent, args.keep) as root:
        try:
            results = run_all(sides, root, settings)
        except BenchError as exc:
            print(f"bench_foundation: {exc}", file=sys.stderr)
            _print_logs(root)
            status = 1
        finally:
            notes = guard.restore() if guard else []
    for note in notes:
        print(f"bench_foundation: {note}", file=sys.stderr)
    if status:
        return status
    print("\n".join(header(args, sides, load_start)))
    print(f"- loadavg at end {_loadavg()}")
    print("\n" + "\n".join(table(results, settings)))
    print("\nRatio = glusterd2 / glusterd1. Start-to-ready includes one CLI call (its own latency, "
          "about the CLI row) for both daemons; the poll interval is "
          f"{settings.poll_s * 1000:g} ms. RSS read {settings.settle_s:g} s after ready / after create.")
    print("\nSamples (run order):")
    print("\n".join(samples(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
