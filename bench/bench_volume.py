"""glusterd2 against the real glusterd1 (Debian glusterfs-server 10.3): volume start, stop and mount.

Run as root from the repository root, with glusterd2 installed in the venv whose python runs this:

    .venv/bin/python bench/bench_volume.py [--cycles 5] [--only gd1|gd2]

Method (both daemons are measured in the same run, on loopback only, glusterd1 on 127.0.0.81 and
glusterd2 on 127.0.0.82, each in its own directory under one `mkdtemp` in /var/tmp). Each daemon is
started once and gets one replica-2 volume `v1` with two bricks on its own address, under its own
directory (`volume create v1 replica 2 ADDR:<dir>/b1 ADDR:<dir>/b2 force`). One untimed warm-up cycle
each writes the file `probe` through a mount. Then `--cycles` timed cycles, the two daemons taking
turns, each cycle:

1. `volume start v1`: the CLI process is timed on its own (start CLI), and from just before it until
   the first `volume status v1` that shows every brick online (start → online). Status is asked
   again 20 ms after each answer that does not, for at most `--online-timeout` seconds; glusterd1's
   is read from `gluster volume status v1 --xml` (`node/status` = 1 for the brick paths), glusterd2's
   from `gd2ctl --json volume status v1` (`bricks[].online`). So that figure includes at least one
   status CLI call for both daemons.
2. `mount -t glusterfs -o log-file=<dir>/m.log ADDR:/v1 <dir>/mnt`: the time until `mount` returns,
   and from just before it until the first successful `stat` of `probe` (tried again every 10 ms,
   for at most 10 s); the contents are then read back and checked, and a new file is written
   through the mount (untimed). Then `umount` (timed, reported), and the FUSE client's exit awaited.
3. `volume stop v1` (glusterd1's confirmation is answered by `--mode=script`): the CLI process is
   timed; right after it returns, every brick pid seen in the last status must be gone (a zombie
   counts as gone). A brick still alive is counted in the report, then given 10 s, then killed.

Medians over the cycles. Ratio = glusterd2 / glusterd1; targets: start → online ≤ 1x, stop ≤ 0.25x.
Mount rows are reported with their ratio and no target.

Hygiene: every mount made is unmounted (`umount`, then `umount -l`) in finally blocks, also on a
failed step, Ctrl-C or SIGTERM; then every daemon is stopped by its PID (SIGTERM, up to 10 s, then
SIGKILL) with its descendants, then every process whose command line names the temp dir (bricks,
self-heal daemons, FUSE clients). glusterd1 puts brick and shd sockets in /run/gluster: the `-S`
sockets of the processes this run started are noted and removed at the end if they did not exist
before. The temp dir is removed (never while anything is still mounted under it; `--keep` keeps
it), and so are glusterd1's side effects outside it (`_glusterd1.DefaultPathGuard`). A daemon whose
cycle fails is dropped from the rest of the run (its error is reported) and the other one goes on.
Python stdlib only, apart from the systemd side below.

With `--systemd` (the default) a third daemon, `gd2u`, runs glusterd2 with `--daemon-backend systemd` on
127.0.0.83 against a real systemd booted as PID 1 of a private namespace (`gd2.testing.systemd_ns`; its
bus reached through `DBUS_SYSTEM_BUS_ADDRESS`): its bricks are transient units in `gd2.slice`. Its
start → online and stop are reported against glusterd1 and against glusterd2's process backend, and
after each stop the brick units' host pids (read from their cgroups, since status shows the
namespace's pids) must be gone. The namespace is powered off at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from _glusterd1 import GLUSTER, GLUSTERD, DefaultPathGuard
from bench_foundation import (
    BenchError,
    Node,
    Processes,
    Side,
    _loadavg,
    _median,
    _next_to_python,
    _row,
    _version,
    build_sides,
    pids_naming,
    ports_free,
    progress,
    stop_pid,
    wait_ready,
)

from gd2.testing.systemd_ns import SystemdNamespace

VOLUME = "v1"
PROBE = "probe"
PROBE_TEXT = b"written through the mount by bench_volume\n"
GD1_SOCK_DIR = Path(os.path.realpath("/run/gluster"))  # glusterd1's compiled-in socket dir for bricks and shd
CLI_TIMEOUT_S = 120.0
MOUNT_TIMEOUT_S = 30.0
STAT_TIMEOUT_S = 10.0
STAT_POLL_S = 0.010
EXIT_WAIT_S = 10.0
TARGET_START = 1.0
TARGET_STOP = 0.25
SYSTEMD_SIDE = "gd2u"  # glusterd2 with --daemon-backend systemd: bricks as units of a namespaced systemd


# --- processes and CLI calls -------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rindex(")") + 2 :].split()[0] not in ("Z", "X")


def wait_gone(pids: Sequence[int], timeout_s: float) -> list[int]:
    """Wait up to `timeout_s` for every pid to end; return those still alive."""
    deadline = time.monotonic() + timeout_s
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [p for p in left if alive(p)]
    return left


@dataclass(frozen=True)
class CliResult:
    rc: int
    ms: float
    out: str
    err: str


def cli(node: Node, *args: str, timeout_s: float = CLI_TIMEOUT_S) -> CliResult:
    """One CLI process against `node`, timed around fork-to-exit with perf_counter_ns."""
    t0 = time.perf_counter_ns()
    try:
        done = subprocess.run(node.cli_argv(*args), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return CliResult(-1, (time.perf_counter_ns() - t0) / 1e6, "", f"timed out after {timeout_s:g}s")
    return CliResult(done.returncode, (time.perf_counter_ns() - t0) / 1e6,
                     done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace").strip())


def cli_ok(node: Node, *args: str) -> CliResult:
    result = cli(node, *args)
    if result.rc != 0:
        detail = result.err or result.out.strip() or "(no output)"
        raise BenchError(f"{node.name}: `{' '.join(args)}` exited {result.rc}: {detail}")
    return result


def socket_args(pids: Sequence[int]) -> set[Path]:
    """The `-S SOCKET` paths on the command lines of `pids`."""
    found: set[Path] = set()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        found.update(Path(argv[i + 1]) for i, arg in enumerate(argv[:-1]) if arg == "-S")
    return found


class SocketLedger:
    """glusterd1's brick/shd sockets in /run/gluster that this run created; `cleanup()` removes them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.before = set(GD1_SOCK_DIR.iterdir()) if GD1_SOCK_DIR.is_dir() else set()
        self.seen: set[Path] = set()

    def note(self) -> None:
        """Record the `-S` sockets of every live process that names the temp dir."""
        for path in socket_args(pids_naming(str(self.tmp))):
            real = Path(os.path.realpath(path.parent)) / path.name  # /var/run is a symlink to /run
            if real.parent == GD1_SOCK_DIR:
                self.seen.add(real)

    def cleanup(self) -> None:
        for path in sorted(self.seen - self.before):
            try:
                if path.is_socket():
                    path.unlink()
            except OSError as exc:
                progress(f"bench_volume: could not remove {path}: {exc}")


# --- mounts ------------------------------------------------------------------------------------


def mounted_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first (from /proc/self/mountinfo)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = Path(line.split()[4].encode().decode("unicode_escape"))
        if point == root or root in point.parents:
            points.append(point)
    return sorted(points, key=lambda p: len(p.parts), reverse=True)


def _run_quiet(argv: list[str], timeout_s: float) -> int:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                              check=False).returncode
    except subprocess.TimeoutExpired:
        return -1


class Mounts:
    """The FUSE mounts the run made; `close()` unmounts whatever is left of them."""

    def __init__(self) -> None:
        self.made: list[Path] = []

    def mount(self, source: str, target: Path, log: Path) -> tuple[int, float, str]:
        """(exit status, ms until `mount` returned, stderr)."""
        target.mkdir(parents=True, exist_ok=True)
        self.made.append(target)  # before the call: an interrupted mount may still have happened
        argv = ["mount", "-t", "glusterfs", "-o", f"log-file={log}", source, str(target)]
        t0 = time.perf_counter_ns()
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=MOUNT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return -1, (time.perf_counter_ns() - t0) / 1e6, f"mount timed out after {MOUNT_TIMEOUT_S:g}s"
        return done.returncode, (time.perf_counter_ns() - t0) / 1e6, done.stderr.decode(errors="replace").strip()

    def unmount(self, target: Path) -> float:
        """ms of `umount`; falls back to `umount -l` when the plain one fails."""
        t0 = time.perf_counter_ns()
        rc = _run_quiet(["umount", str(target)], MOUNT_TIMEOUT_S)
        ms = (time.perf_counter_ns() - t0) / 1e6
        if rc != 0 and target in mounted_under(target):
            _run_quiet(["umount", "-l", str(target)], MOUNT_TIMEOUT_S)
        if target in mounted_under(target):
            raise BenchError(f"could not unmount {target}")
        if target in self.made:
            self.made.remove(target)
        return ms

    def close(self, root: Path) -> None:
        """Unmount every mount made (and anything else mounted under `root`), lazily if need be."""
        for target in sorted(set(self.made) | set(mounted_under(root)), key=lambda p: len(p.parts), reverse=True):
            try:
                self.unmount(target)
            except BenchError as exc:
                progress(f"bench_volume: {exc}")
        self.made.clear()


def first_stat_ms(path: Path, t0: int) -> float:
    """ms from `t0` until `stat(path)` first succeeds (tried every 10 ms, at most 10 s)."""
    deadline = time.monotonic() + STAT_TIMEOUT_S
    last: OSError | None = None
    while time.monotonic() < deadline:
        try:
            os.stat(path)
            return (time.perf_counter_ns() - t0) / 1e6
        except OSError as exc:
            last = exc
        time.sleep(STAT_POLL_S)
    raise BenchError(f"stat {path} kept failing for {STAT_TIMEOUT_S:g}s: {last}")


# --- volume status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrickState:
    path: str
    online: bool
    pid: int | None


def _int_or_none(text: object) -> int | None:
    try:
        value = int(str(text))
    except ValueError:
        return None
    return value if value > 0 else None


def parse_gd1_status(xml_text: str, brick_paths: Sequence[str]) -> list[BrickState]:
    """The bricks in `gluster volume status VOL --xml` (nodes whose path is one of ours)."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return []
    if root.findtext("opRet") != "0":
        return []
    states = []
    for node in root.iter("node"):
        path = node.findtext("path") or ""
        if path in brick_paths:
            states.append(BrickState(path, node.findtext("status") == "1", _int_or_none(node.findtext("pid"))))
    return states


def parse_gd2_status(json_text: str) -> list[BrickState]:
    """The bricks in `gd2ctl --json volume status VOL`."""
    try:
        data = json.loads(json_text)
    except json.JSONDecodeError:
        return []
    return [BrickState(str(b.get("path", "")), b.get("online") is True, _int_or_none(b.get("pid")))
            for b in (data.get("bricks") or []) if isinstance(b, dict)]


def brick_states(side: Side, node: Node, brick_paths: Sequence[str]) -> tuple[list[BrickState], str]:
    """The volume's bricks as its daemon reports them now, and the CLI's error text if it failed."""
    if side.key == "gd1":
        result = cli(node, "volume", "status", VOLUME, "--xml")
        return parse_gd1_status(result.out, brick_paths), result.err
    result = cli(node, "--json", "volume", "status", VOLUME)
    return (parse_gd2_status(result.out) if result.rc == 0 else []), result.err


def wait_online(side: Side, node: Node, brick_paths: Sequence[str], t0: int,
                settings: Settings) -> tuple[float, list[BrickState]]:
    """ms from `t0` until status shows every brick online; asks every `poll_s` after an answer."""
    deadline = time.monotonic() + settings.online_timeout_s
    last: tuple[list[BrickState], str] = ([], "")
    while time.monotonic() < deadline:
        last = brick_states(side, node, brick_paths)
        states = last[0]
        if len(states) == len(brick_paths) and all(s.online for s in states):
            return (time.perf_counter_ns() - t0) / 1e6, states
        time.sleep(settings.poll_s)
    raise BenchError(f"{node.name}: bricks not all online after {settings.online_timeout_s:g}s "
                     f"(last status: {last[0] or last[1] or 'empty'})")


# --- one cycle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    cycles: int
    poll_s: float
    online_timeout_s: float
    ready_timeout_s: float
    namespace: SystemdNamespace | None = None  # the systemd that runs the gd2u side's bricks


@dataclass
class SideResult:
    start_cli_ms: list[float] = field(default_factory=list)
    online_ms: list[float] = field(default_factory=list)
    mount_ms: list[float] = field(default_factory=list)
    stat_ms: list[float] = field(default_factory=list)
    umount_ms: list[float] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)
    left_after_stop: list[int] = field(default_factory=list)  # brick processes alive when stop returned
    error: str | None = None


@dataclass(frozen=True)
class Pool:
    """One long-lived daemon with volume v1 (two bricks) and a mount point."""

    side: Side
    node: Node
    brick_paths: tuple[str, ...]

    @property
    def mnt(self) -> Path:
        return self.node.root / "mnt"

    @property
    def mount_log(self) -> Path:
        return self.node.root / "m.log"

    @property
    def source(self) -> str:
        return f"{self.node.address}:/{VOLUME}"


def start_volume(pool: Pool, settings: Settings) -> tuple[float, float, list[BrickState]]:
    """(start CLI ms, start → all bricks online ms, brick states)."""
    t0 = time.perf_counter_ns()
    start = cli_ok(pool.node, "volume", "start", VOLUME)
    online_ms, states = wait_online(pool.side, pool.node, pool.brick_paths, t0, settings)
    return start.ms, online_ms, states


def mount_and_stat(pool: Pool, mounts: Mounts, tag: str, write_probe: bool) -> tuple[float, float, float]:
    """(mount ms, mount launch → first stat of `probe` ms, umount ms); writes through the mount."""
    t0 = time.perf_counter_ns()
    rc, mount_ms, err = mounts.mount(pool.source, pool.mnt, pool.mount_log)
    clients = pids_naming(str(pool.mnt))
    try:
        if rc != 0:
            raise BenchError(f"{pool.node.name}: mount {pool.source} exited {rc}: {err or '(see m.log)'}")
        if write_probe:
            (pool.mnt / PROBE).write_bytes(PROBE_TEXT)
        stat_ms = first_stat_ms(pool.mnt / PROBE, t0)
        if (pool.mnt / PROBE).read_bytes() != PROBE_TEXT:
            raise BenchError(f"{pool.node.name}: {PROBE} read back through the mount differs")
        with open(pool.mnt / f"written-{tag.replace('/', '-').replace(' ', '-')}", "wb") as out:
            out.write(tag.encode())
            os.fsync(out.fileno())
    except OSError as exc:
        raise BenchError(f"{pool.node.name}: through the mount: {exc}") from exc
    finally:
        umount_ms = mounts.unmount(pool.mnt)
        for pid in wait_gone(clients, EXIT_WAIT_S):
            stop_pid(pid)
    return mount_ms, stat_ms, umount_ms


def brick_unit_pids(namespace: SystemdNamespace) -> list[int]:
    """Host pids of the brick units (status shows the namespace's pids)."""
    return [pid for unit in namespace.units_in() if unit.startswith("gd2-brick-") for pid in namespace.host_pids(unit)]


def stop_volume(pool: Pool, states: Sequence[BrickState], settings: Settings) -> tuple[float, int]:
    """(stop CLI ms, brick processes still alive right after it returned); ends any left over."""
    pids = [s.pid for s in states if s.pid is not None]
    if pool.side.key == SYSTEMD_SIDE and settings.namespace is not None:
        pids = brick_unit_pids(settings.namespace)
    if len(pids) != len(pool.brick_paths):
        raise BenchError(f"{pool.node.name}: status did not give a pid for every brick: {list(states)}")
    stop = cli_ok(pool.node, "volume", "stop", VOLUME)
    left = [p for p in pids if alive(p)]
    if left:
        progress(f"{pool.side.key}: brick pids {left} still alive when `volume stop` returned")
        for pid in wait_gone(left, EXIT_WAIT_S):
            progress(f"{pool.side.key}: brick pid {pid} still alive {EXIT_WAIT_S:g}s after stop; killing it")
            stop_pid(pid)
    return stop.ms, len(left)


def one_cycle(pool: Pool, mounts: Mounts, ledger: SocketLedger, settings: Settings,
              result: SideResult | None, tag: str) -> None:
    """start → online, mount → stat → umount, stop; `result` None for the untimed warm-up."""
    start_ms, online_ms, states = start_volume(pool, settings)
    ledger.note()
    try:
        mount_ms, stat_ms, umount_ms = mount_and_stat(pool, mounts, tag, write_probe=result is None)
    except BenchError:
        cli(pool.node, "volume", "stop", VOLUME)  # best effort; the final sweep ends what is left
        raise
    stop_ms, left = stop_volume(pool, states, settings)
    if result is not None:
        result.start_cli_ms.append(start_ms)
        result.online_ms.append(online_ms)
        result.mount_ms.append(mount_ms)
        result.stat_ms.append(stat_ms)
        result.umount_ms.append(umount_ms)
        result.stop_ms.append(stop_ms)
        result.left_after_stop.append(left)
    progress(f"{pool.side.key} {tag}: start {start_ms:.0f} ms, online after {online_ms:.0f} ms, "
             f"mount {mount_ms:.0f} ms, stat after {stat_ms:.0f} ms, stop {stop_ms:.0f} ms"
             f"{f', {left} brick(s) left' if left else ''}")


# --- the run -----------------------------------------------------------------------------------


def bring_up(procs: Processes, side: Side, tmp: Path, settings: Settings) -> Pool:
    """Start the daemon in <tmp>/<key> and create v1 (replica 2, two bricks, force)."""
    node = side.make(tmp / side.key)
    proc, t0 = procs.start(node)
    wait_ready(node, proc, t0, settings.ready_timeout_s, 0.010)
    bricks = (node.brick("b1"), node.brick("b2"))
    cli_ok(node, "volume", "create", VOLUME, "replica", "2", *bricks, "force")
    return Pool(side, node, tuple(b.split(":", 1)[1] for b in bricks))


def guarded(pool: Pool, results: dict[str, SideResult], step: str, action: Callable[[], None]) -> None:
    """Run one step of a side; on failure note the error so that side is dropped."""
    try:
        action()
    except BenchError as exc:
        results[pool.side.key].error = f"{step}: {exc}"
        progress(f"bench_volume: {pool.side.key} dropped: {step}: {exc}")


def run_all(sides: Sequence[Side], tmp: Path, settings: Settings) -> dict[str, SideResult]:
    results = {side.key: SideResult() for side in sides}
    procs = Processes(tmp)
    mounts = Mounts()
    ledger = SocketLedger(tmp)
    try:
        for side in sides:
            ports_free(side.address, side.ports)
        pools: list[Pool] = []
        for side in sides:
            try:
                pools.append(bring_up(procs, side, tmp, settings))
                progress(f"{side.key}: daemon up, volume {VOLUME} created")
            except BenchError as exc:
                results[side.key].error = f"bring-up: {exc}"
                progress(f"bench_volume: {side.key} dropped: bring-up: {exc}")
        for pool in pools:
            guarded(pool, results, "warm-up cycle", partial(one_cycle, pool, mounts, ledger, settings, None, "warm-up"))
        for i in range(settings.cycles):
            for pool in pools:
                if results[pool.side.key].error is None:
                    tag = f"cycle {i + 1}/{settings.cycles}"
                    step = partial(one_cycle, pool, mounts, ledger, settings, results[pool.side.key], tag)
                    guarded(pool, results, f"cycle {i + 1}", step)
    finally:
        mounts.close(tmp)
        ledger.note()
        procs.close()
        ledger.cleanup()
    return results


# --- report ------------------------------------------------------------------------------------


def table(results: dict[str, SideResult], settings: Settings) -> list[str]:
    gd1, gd2 = results.get("gd1", SideResult()), results.get("gd2", SideResult())
    n = f"median N={settings.cycles}"

    def left(r: SideResult) -> str:
        return str(sum(r.left_after_stop)) if r.left_after_stop else "—"

    ran = [r for r in (gd1, gd2) if r.left_after_stop]
    left_met = "—" if not ran else ("yes" if all(sum(r.left_after_stop) == 0 for r in ran) else "no")
    return [
        "| measurement | glusterd1 | glusterd2 | ratio | target | met? |",
        "|---|---|---|---|---|---|",
        _row(f"`volume start v1` → status shows both bricks online (ms, {n})",
             _median(gd1.online_ms), _median(gd2.online_ms), TARGET_START),
        _row(f"`volume start v1` CLI returns (ms, {n})", _median(gd1.start_cli_ms), _median(gd2.start_cli_ms), None),
        _row(f"`volume stop v1` CLI returns (ms, {n})", _median(gd1.stop_ms), _median(gd2.stop_ms), TARGET_STOP),
        f"| brick processes alive when stop returned (all cycles) | {left(gd1)} | {left(gd2)} | — | 0 | {left_met} |",
        _row(f"`mount -t glusterfs` returns (ms, {n})", _median(gd1.mount_ms), _median(gd2.mount_ms), None),
        _row(f"mount launch → first `stat` of a file (ms, {n})", _median(gd1.stat_ms), _median(gd2.stat_ms), None),
        _row(f"`umount` (ms, {n})", _median(gd1.umount_ms), _median(gd2.umount_ms), None),
        *systemd_rows(results, settings),
    ]


def systemd_rows(results: dict[str, SideResult], settings: Settings) -> list[str]:
    """glusterd2 with bricks as systemd units, against glusterd1 and against its process backend."""
    units = results.get(SYSTEMD_SIDE)
    if units is None:
        return []
    gd1, gd2 = results.get("gd1", SideResult()), results.get("gd2", SideResult())
    n = f"median N={settings.cycles}"
    return [
        "",
        "| glusterd2, bricks as systemd units (gd2u) against … | baseline | gd2u | ratio | target | met? |",
        "|---|---|---|---|---|---|",
        _row(f"glusterd1: start → online (ms, {n})", _median(gd1.online_ms), _median(units.online_ms), TARGET_START),
        _row(f"glusterd2 processes: start → online (ms, {n})", _median(gd2.online_ms), _median(units.online_ms),
             None),
        _row(f"glusterd1: `volume stop` (ms, {n})", _median(gd1.stop_ms), _median(units.stop_ms), TARGET_STOP),
        _row(f"glusterd2 processes: `volume stop` (ms, {n})", _median(gd2.stop_ms), _median(units.stop_ms), None),
        f"| brick units alive when stop returned (all cycles) | — | {sum(units.left_after_stop)} | — | 0 | "
        f"{'yes' if sum(units.left_after_stop) == 0 else 'no'} |",
    ]


def samples(results: dict[str, SideResult]) -> list[str]:
    def fmt(values: Sequence[float]) -> str:
        return " ".join(f"{v:.0f}" for v in values) or "—"

    lines = []
    for key, r in results.items():
        lines += [
            f"- {key} start → online ms: {fmt(r.online_ms)}",
            f"- {key} start CLI ms: {fmt(r.start_cli_ms)}",
            f"- {key} stop CLI ms: {fmt(r.stop_ms)}",
            f"- {key} bricks alive when stop returned: {' '.join(map(str, r.left_after_stop)) or '—'}",
            f"- {key} mount ms: {fmt(r.mount_ms)}",
            f"- {key} mount → first stat ms: {fmt(r.stat_ms)}",
            f"- {key} umount ms: {fmt(r.umount_ms)}",
        ]
    return lines


def header(sides: Sequence[Side], load_start: str) -> list[str]:
    lines = [
        "# bench_volume: glusterd2 vs glusterd1 (volume start/stop, mount)",
        "",
        f"- date (UTC) {datetime.now(UTC):%Y-%m-%d %H:%M}; kernel {platform.release()}; {os.cpu_count()} CPUs",
        f"- loadavg at start {load_start}",
    ]
    for side in sides:
        if side.key == "gd1":
            lines.append(f"- glusterd1: {_version([side.glusterd, '--version'])} on {side.address}")
        else:
            lines.append(f"- glusterd2 ({side.key}{', bricks as systemd units' if side.extra else ''}): "
                         f"{_version([side.glusterd2, '--version'])} on {side.address} "
                         f"({side.glusterd2})")
    return lines


# --- entry point -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cycles", type=int, default=5, help="timed start/mount/stop cycles per daemon")
    p.add_argument("--only", choices=("gd1", "gd2"), help="run one half only")
    p.add_argument("--gd1-address", default="127.0.0.81")
    p.add_argument("--gd2-address", default="127.0.0.82")
    p.add_argument("--glusterd", default=GLUSTERD)
    p.add_argument("--gluster", default=GLUSTER)
    p.add_argument("--glusterd2", default=_next_to_python("glusterd2"))
    p.add_argument("--gd2ctl", default=_next_to_python("gd2ctl"))
    p.add_argument("--poll-interval", type=float, default=0.020, help="seconds between status calls")
    p.add_argument("--online-timeout", type=float, default=60.0, help="seconds to wait for bricks online")
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for a daemon")
    p.add_argument("--tmp-parent", default="/var/tmp", help="where the temp dir goes (needs xattrs)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs) at the end")
    p.add_argument("--systemd", action=argparse.BooleanOptionalAction, default=True,
                   help="also run glusterd2 with bricks as units of a systemd booted in a private namespace")
    p.add_argument("--gd2u-address", default="127.0.0.83", help="address of the systemd-backend glusterd2")
    args = p.parse_args(argv)
    if args.cycles < 1:
        p.error("--cycles must be at least 1")
    for address in (args.gd1_address, args.gd2_address, args.gd2u_address):
        if not address.startswith("127."):
            p.error(f"{address}: only loopback addresses")
    return args


@contextmanager
def temp_root(parent: str, keep: bool) -> Iterator[Path]:
    """A fresh temp dir, removed at the end unless kept or something is still mounted under it."""
    root = Path(tempfile.mkdtemp(prefix="gd2bench-vol-", dir=parent))
    try:
        yield root
    finally:
        still = mounted_under(root)
        if still:
            progress(f"bench_volume: left {root}: still mounted: {', '.join(map(str, still))}")
        elif keep:
            progress(f"\nkept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _print_logs(root: Path) -> None:
    """The tails of the daemons' and mounts' logs, so a failure explains itself even without --keep."""
    for pattern in ("*/daemon.out", "*/log/glusterd.log", "*/log/glusterd2.log", "*/m.log"):
        for path in sorted(root.glob(pattern)):
            tail = path.read_text(errors="replace").splitlines()[-10:]
            if tail:
                print(f"--- last lines of {path}:", *tail, sep="\n", file=sys.stderr)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that unmount and stop


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = Settings(args.cycles, args.poll_interval, args.online_timeout, args.ready_timeout)
    try:
        sides = build_sides(args)
    except BenchError as exc:
        print(f"bench_volume: {exc}", file=sys.stderr)
        return 2
    load_start = _loadavg()
    guard = DefaultPathGuard() if any(side.key == "gd1" for side in sides) else None
    results: dict[str, SideResult] = {}
    status = 0
    with temp_root(args.tmp_parent, args.keep) as root:
        namespace = None
        try:
            if args.systemd and args.only in (None, "gd2"):
                namespace = SystemdNamespace(root / "systemd").boot()
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = namespace.bus_address  # only gd2u reads it
                gd2 = next(side for side in sides if side.key == "gd2")
                sides.append(replace(gd2, key=SYSTEMD_SIDE, address=args.gd2u_address,
                                     extra=("--daemon-backend", "systemd")))
                settings = replace(settings, namespace=namespace)
            results = run_all(sides, root, settings)
        except (BenchError, RuntimeError) as exc:
            print(f"bench_volume: {exc}", file=sys.stderr)
            status = 1
        finally:
            notes = guard.restore() if guard else []
            if namespace is not None:
                namespace.poweroff()
        if any(r.error for r in results.values()):
            _print_logs(root)
    for note in notes:
        print(f"bench_volume: {note}", file=sys.stderr)
    if status:
        return status
    print("\n".join(header(sides, load_start)))
    print(f"- loadavg at end {_loadavg()}")
    print("\n" + "\n".join(table(results, settings)))
    print("\nRatio = glusterd2 / glusterd1. Start → online includes at least one `volume status` CLI call "
          f"(polled {settings.poll_s * 1000:g} ms after each answer); mount → stat is timed from mount launch.")
    for key, r in results.items():
        if r.error:
            print(f"\n**{key} failed** ({r.error}); its figures cover the cycles before that.")
    print("\nSamples (run order):")
    print("\n".join(samples(results)))
    return 1 if any(r.error for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
