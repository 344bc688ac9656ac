"""A 3-node glusterd2 pool against a 3-node glusterd1 pool: replica-3 volume ops, then etcd leader loss.

Run as root from the repository root, with glusterd2 installed in the venv whose python runs this:

    .venv/bin/python bench/bench_pool.py [--rounds 5] [--only gd1|gd2]

Method (loopback only; every daemon in its own directory under one `mkdtemp` in /var/tmp):

1. Pools. glusterd1: three `glusterd` on 127.0.0.111-113 (as in `_glusterd1.Glusterd1Node`), then on
   node 1 `gluster peer probe` node 2 and node 3, and a wait until every node's `peer status` shows
   2 peers Connected. glusterd2: three `glusterd2` on 127.0.0.101-103 (default ports, since the
   addresses differ), then on node 1 `gd2ctl peer add` node 2 and node 3 (each returns once the new
   node has joined), and a wait until every node's `peer list` shows 3 peers online. These times
   are printed as information, with no target.
2. Volume ops, `--rounds` rounds (5 by default), the two pools taking turns: a replica-3 volume
   `r3-N` with one brick per node (`ADDR:<node dir>/r3-N`, fresh dirs each round, `force` since they
   are on the root fs), all through node 1: `volume create … replica 3 … force`, `volume start`,
   `volume stop`, `volume delete`. Each CLI process is timed on its own with perf_counter_ns;
   after start, status (through node 1) is polled every 20 ms until the 3 bricks are online, and
   that time (from just before the start CLI) is reported too. Medians. Ratio = glusterd2 /
   glusterd1; target ≤ 1x for create, start, stop and delete.
3. Leader loss (glusterd2 only; glusterd1 has no store and no leader, so there is no counterpart):
   the etcd leader is found with `etcdctl endpoint status -w json` over the 3 client endpoints; the
   glusterd2 node whose etcd member leads is killed with SIGKILL, together with every process below
   it (its etcd), at once. Then `gd2ctl volume create recN A:<dir> B:<dir> force` (a 2-brick
   distribute volume on the two surviving nodes, a fresh name and dirs each try, `--timeout
   --attempt-timeout`) is tried through a surviving node, 100 ms after each failure, until one
   exits 0: that time is reported in seconds, with the number of tries and the first error. Then
   that survivor's `peer list` is polled until it shows the killed node offline (its lease expired;
   timed from the kill, so it is at least the create's time).
4. Restart: the killed node is started again with the same directories and flags; reported are the
   times from its exec until a surviving node's `peer list` shows it online, until its own CLI
   answers `peer list`, and until all 3 etcd endpoints answer `endpoint status`. The restarted
   node must then list the volume created while it was down.

Hygiene: every daemon is stopped by PID (SIGTERM, up to 10 s, then SIGKILL) with its descendants,
then every process whose command line names the temp dir (bricks, self-heal daemons). glusterd1's
brick sockets in /run/gluster that this run created are removed (`bench_volume.SocketLedger`), and
so are its default-path side effects (`_glusterd1.DefaultPathGuard`). The temp dir is removed
(`--keep` keeps it). A pool whose step fails is dropped (the report names the error, and the tails
of its logs go to stderr); the other one goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _glusterd1 import GLUSTER, GLUSTERD, DefaultPathGuard, Glusterd1Node
from bench_foundation import (
    GD1_PORTS,
    GD2_PORTS,
    BenchError,
    Glusterd2Node,
    Node,
    Processes,
    _alive,
    _loadavg,
    _median,
    _next_to_python,
    _row,
    _version,
    descendants,
    ports_free,
    progress,
    temp_root,
    wait_ready,
)
from bench_volume import SocketLedger, _print_logs, cli, cli_ok, parse_gd1_status, parse_gd2_status

GD2_POOL_PORTS = {**GD2_PORTS, "join": 24010}
TARGET = 1.0
ETCDCTL_TIMEOUT_S = 10.0


@dataclass
class PoolResult:
    """What one pool measured; `error` set when a step failed and the pool was dropped."""

    key: str
    probe_ms: list[float] = field(default_factory=list)  # peer add/probe of node 2, node 3
    all_online_ms: float | None = None  # first probe start → every node sees every peer online
    create_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)
    online_ms: list[float] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)
    delete_ms: list[float] = field(default_factory=list)
    error: str | None = None


@dataclass
class Failover:
    """The glusterd2 leader-loss test."""

    leader: str = ""  # address of the node killed
    killed_pids: list[int] = field(default_factory=list)
    via: str = ""  # address of the surviving node the creates went through
    recover_s: float | None = None
    tries: int = 0
    first_error: str = ""
    new_leader: str = ""
    offline_s: float | None = None  # SIGKILL → survivor's peer list shows the killed node offline
    peer_online_s: float | None = None  # restart exec → survivor's peer list shows it online
    own_cli_s: float | None = None  # restart exec → its own `peer list` exits 0
    etcd_s: float | None = None  # restart exec → all 3 etcd endpoints answer
    lists_volume: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class Settings:
    rounds: int
    poll_s: float
    online_timeout_s: float
    ready_timeout_s: float
    join_timeout_s: float
    recover_timeout_s: float
    attempt_timeout_s: float
    failover: bool = True


# --- pools -------------------------------------------------------------------------------------


@dataclass
class Pool:
    key: str  # "gd1" | "gd2"
    nodes: list[Node]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # address → daemon

    @property
    def first(self) -> Node:
        return self.nodes[0]


def gd1_connected(node: Node) -> int:
    """How many peers `gluster peer status` on `node` shows Connected (0 if it fails)."""
    result = cli(node, "peer", "status", timeout_s=30)
    return result.out.count("(Connected)") if result.rc == 0 else 0


def gd2_peers(node: Node, timeout_s: float = 30) -> list[dict[str, object]]:
    """The peers in `gd2ctl --json peer list` on `node` ([] if it fails)."""
    result = cli(node, "--json", "peer", "list", timeout_s=timeout_s)
    if result.rc != 0:
        return []
    try:
        peers = json.loads(result.out).get("peers") or []
    except (json.JSONDecodeError, AttributeError):
        return []
    return [p for p in peers if isinstance(p, dict)]


def gd2_online(node: Node, address: str) -> bool:
    """True when `node`'s peer list shows the peer at `address` online."""
    return any(address in (p.get("addresses") or []) and p.get("online") is True for p in gd2_peers(node))


def all_joined(pool: Pool) -> bool:
    if pool.key == "gd1":
        return all(gd1_connected(node) == 2 for node in pool.nodes)
    addresses = {node.address for node in pool.nodes}
    for node in pool.nodes:
        online = {a for p in gd2_peers(node) if p.get("online") is True for a in (p.get("addresses") or [])}
        if not addresses <= online:
            return False
    return True


def bring_up(procs: Processes, pool: Pool, settings: Settings, result: PoolResult) -> None:
    """Start the three daemons together, wait until each answers, then join nodes 2 and 3 to node 1."""
    started = [(node, *procs.start(node)) for node in pool.nodes]
    for node, proc, t0 in started:
        pool.procs[node.address] = proc
        ms = wait_ready(node, proc, t0, settings.ready_timeout_s, 0.050)
        progress(f"{pool.key} {node.address}: answers after {ms:.0f} ms")
    t_join = time.perf_counter_ns()
    for other in pool.nodes[1:]:
        if pool.key == "gd1":
            result.probe_ms.append(cli_ok(pool.first, "peer", "probe", other.address).ms)
        else:
            result.probe_ms.append(cli_ok(pool.first, "peer", "add", other.address).ms)
        progress(f"{pool.key}: {'peer probe' if pool.key == 'gd1' else 'peer add'} {other.address} "
                 f"took {result.probe_ms[-1]:.0f} ms")
    deadline = time.monotonic() + settings.join_timeout_s
    while not all_joined(pool):
        if time.monotonic() > deadline:
            raise BenchError(f"{pool.key}: not every node sees every peer online after {settings.join_timeout_s:g}s")
        time.sleep(settings.poll_s)
    result.all_online_ms = (time.perf_counter_ns() - t_join) / 1e6
    progress(f"{pool.key}: every node sees every peer online {result.all_online_ms:.0f} ms after the first join")


# --- volume ops --------------------------------------------------------------------------------


def bricks_online(pool: Pool, volume: str, paths: Sequence[str]) -> tuple[bool, str]:
    """(all `paths` online in node 1's status, what the status said)."""
    if pool.key == "gd1":
        result = cli(pool.first, "volume", "status", volume, "--xml")
        states = parse_gd1_status(result.out, paths)
    else:
        result = cli(pool.first, "--json", "volume", "status", volume)
        states = parse_gd2_status(result.out) if result.rc == 0 else []
    ok = len(states) == len(paths) and all(s.online for s in states)
    return ok, str(states) if states else (result.err or result.out.strip() or "empty")


def one_round(pool: Pool, ledger: SocketLedger, settings: Settings, result: PoolResult, i: int) -> None:
    volume = f"r3-{i}"
    bricks = [node.brick(volume) for node in pool.nodes]
    paths = [b.split(":", 1)[1] for b in bricks]
    create = cli_ok(pool.first, "volume", "create", volume, "replica", "3", *bricks, "force")
    t0 = time.perf_counter_ns()
    start = cli_ok(pool.first, "volume", "start", volume)
    deadline = time.monotonic() + settings.online_timeout_s
    while True:
        ok, said = bricks_online(pool, volume, paths)
        if ok:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{pool.key}: {volume}: bricks not all online after {settings.online_timeout_s:g}s "
                             f"(last status: {said})")
        time.sleep(settings.poll_s)
    online_ms = (time.perf_counter_ns() - t0) / 1e6
    ledger.note()
    stop = cli_ok(pool.first, "volume", "stop", volume)
    delete = cli_ok(pool.first, "volume", "delete", volume)
    result.create_ms.append(create.ms)
    result.start_ms.append(start.ms)
    result.online_ms.append(online_ms)
    result.stop_ms.append(stop.ms)
    result.delete_ms.append(delete.ms)
    progress(f"{pool.key} round {i}: create {create.ms:.0f}, start {start.ms:.0f} (online {online_ms:.0f}), "
             f"stop {stop.ms:.0f}, delete {delete.ms:.0f} ms")


# --- leader loss (glusterd2) -------------------------------------------------------------------


def etcd_status(nodes: Sequence[Node], port: int) -> tuple[int, list[dict[str, object]], str]:
    """(exit status, parsed `etcdctl endpoint status -w json`, stderr) over the nodes' client endpoints
    (https, with the first node's certificate from the pool CA)."""
    endpoints = ",".join(f"https://{n.address}:{port}" for n in nodes)
    tls = nodes[0].root / "state" / "tls"
    argv = ["etcdctl", "--endpoints", endpoints, "--cacert", str(tls / "ca.pem"), "--cert", str(tls / "node.pem"),
            "--key", str(tls / "node.key"), "--command-timeout", "3s", "endpoint", "status", "-w", "json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=ETCDCTL_TIMEOUT_S, check=False,
                              env={**os.environ, "ETCDCTL_API": "3"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return -1, [], str(exc)
    try:
        parsed = json.loads(done.stdout) if done.stdout.strip() else []
    except json.JSONDecodeError:
        parsed = []
    return done.returncode, [e for e in parsed if isinstance(e, dict)], done.stderr.strip()


def etcd_leader(nodes: Sequence[Node], port: int) -> str:
    """The address whose etcd member is the leader."""
    rc, entries, err = etcd_status(nodes, port)
    for entry in entries:
        status = entry.get("Status") or {}
        header = status.get("header") or {} if isinstance(status, dict) else {}
        if isinstance(status, dict) and status.get("leader") and header.get("member_id") == status.get("leader"):
            endpoint = str(entry.get("Endpoint", ""))
            return endpoint.split("//", 1)[-1].rsplit(":", 1)[0]
    raise BenchError(f"gd2: no etcd leader among {[n.address for n in nodes]} (etcdctl exited {rc}: {err or entries})")


def kill_node(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL the daemon and everything below it at once; reap the daemon."""
    pids = [proc.pid, *descendants(proc.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids[1:]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return pids


def leader_loss(procs: Processes, pool: Pool, settings: Settings, out: Failover) -> None:
    port = GD2_PORTS["etcd-client"]
    out.leader = etcd_leader(pool.nodes, port)
    victim = next(node for node in pool.nodes if node.address == out.leader)
    survivors = [node for node in pool.nodes if node is not victim]
    via = survivors[0]
    out.via = via.address
    progress(f"gd2: etcd leader is {out.leader}; killing its glusterd2 and etcd with SIGKILL")
    proc = pool.procs.pop(victim.address)
    t0 = time.perf_counter_ns()
    out.killed_pids = kill_node(proc)
    procs.running.remove(proc)
    deadline = time.monotonic() + settings.recover_timeout_s
    while True:
        out.tries += 1
        name = f"rec{out.tries}"
        bricks = [node.brick(name) for node in survivors]
        last = cli(via, "--timeout", f"{settings.attempt_timeout_s:g}", "volume", "create", name, *bricks, "force",
                   timeout_s=settings.attempt_timeout_s + 10)
        if last.rc == 0:
            out.recover_s = (time.perf_counter_ns() - t0) / 1e9
            break
        if not out.first_error:
            out.first_error = (last.err or last.out.strip() or f"exit {last.rc}").splitlines()[-1][:200]
        if time.monotonic() > deadline:
            raise BenchError(f"gd2: no `volume create` through {via.address} succeeded within "
                             f"{settings.recover_timeout_s:g}s of killing {out.leader} ({out.tries} tries; last: "
                             f"exit {last.rc}: {last.err or last.out.strip()})")
        time.sleep(0.1)
    progress(f"gd2: `volume create {name}` through {via.address} succeeded {out.recover_s:.2f} s after the kill "
             f"({out.tries} tries)")
    try:
        out.new_leader = etcd_leader(survivors, port)
    except BenchError as exc:
        out.new_leader = f"unknown ({exc})"
    while gd2_online(via, victim.address):  # its alive/ key lives until its lease expires
        if time.monotonic() > deadline:
            raise BenchError(f"gd2: {via.address}'s peer list still shows the killed {victim.address} online "
                             f"{settings.recover_timeout_s:g}s after the kill")
        time.sleep(settings.poll_s)
    out.offline_s = _since_s(t0)
    progress(f"gd2: {via.address}'s peer list shows {victim.address} offline {out.offline_s:.2f} s after the kill")
    restart(procs, pool, victim, via, name, settings, out)


def _since_s(t0: int) -> float:
    return (time.perf_counter_ns() - t0) / 1e9


def restart(procs: Processes, pool: Pool, victim: Node, via: Node, volume: str, settings: Settings,
            out: Failover) -> None:
    """Start the killed node again and time its return."""
    daemon_out = victim.root / "daemon.out"
    if daemon_out.exists():
        daemon_out.rename(victim.root / "daemon.out.killed")
    proc, t0 = procs.start(victim)
    pool.procs[victim.address] = proc
    deadline = time.monotonic() + settings.recover_timeout_s
    while out.peer_online_s is None or out.own_cli_s is None or out.etcd_s is None:
        if proc.poll() is not None:
            raise BenchError(f"gd2: restarted {victim.address} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            missing = [what for what, v in (("survivor's peer list shows it online", out.peer_online_s),
                                            ("its own CLI answers", out.own_cli_s),
                                            ("3 etcd endpoints answer", out.etcd_s)) if v is None]
            raise BenchError(f"gd2: {settings.recover_timeout_s:g}s after restarting {victim.address}, not yet: "
                             f"{', '.join(missing)}")
        if out.peer_online_s is None and gd2_online(via, victim.address):
            out.peer_online_s = _since_s(t0)
        if out.own_cli_s is None and cli(victim, "peer", "list", timeout_s=10).rc == 0:
            out.own_cli_s = _since_s(t0)
        if out.etcd_s is None:
            rc, entries, _ = etcd_status(pool.nodes, GD2_PORTS["etcd-client"])
            if rc == 0 and len(entries) == len(pool.nodes):
                out.etcd_s = _since_s(t0)
        time.sleep(settings.poll_s)
    progress(f"gd2: restarted {victim.address}: online in {via.address}'s peer list after {out.peer_online_s:.2f} s, "
             f"own CLI after {out.own_cli_s:.2f} s, 3 etcd endpoints after {out.etcd_s:.2f} s")
    listed = cli(victim, "volume", "list")
    out.lists_volume = listed.rc == 0 and volume in listed.out.split()


# --- the run -----------------------------------------------------------------------------------


def guarded(result: PoolResult | Failover, step: str, action: Callable[[], None]) -> None:
    try:
        action()
    except (BenchError, subprocess.SubprocessError, OSError) as exc:
        result.error = f"{step}: {exc}"
        progress(f"bench_pool: {step} failed: {exc}")


def run_all(pools: Sequence[Pool], tmp: Path, settings: Settings) -> tuple[dict[str, PoolResult], Failover | None]:
    results = {pool.key: PoolResult(pool.key) for pool in pools}
    failover = Failover() if settings.failover and any(pool.key == "gd2" for pool in pools) else None
    procs = Processes(tmp)
    ledger = SocketLedger(tmp)
    try:
        for pool in pools:
            for node in pool.nodes:
                ports_free(node.address, GD1_PORTS if pool.key == "gd1" else GD2_POOL_PORTS)
        for pool in pools:
            guarded(results[pool.key], f"{pool.key} pool bring-up",
                    lambda pool=pool: bring_up(procs, pool, settings, results[pool.key]))
        for i in range(1, settings.rounds + 1):
            for pool in pools:
                if results[pool.key].error is None:
                    guarded(results[pool.key], f"{pool.key} round {i}",
                            lambda pool=pool, i=i: one_round(pool, ledger, settings, results[pool.key], i))
        gd2 = next((pool for pool in pools if pool.key == "gd2"), None)
        if gd2 is not None and failover is not None and settings.failover:
            if results["gd2"].error is None:
                guarded(failover, "gd2 leader loss", lambda: leader_loss(procs, gd2, settings, failover))
            else:
                failover.error = "skipped: the glusterd2 pool failed earlier"
    finally:
        ledger.note()
        procs.close()
        ledger.cleanup()
    return results, failover


# --- report ------------------------------------------------------------------------------------


def table(results: dict[str, PoolResult], settings: Settings) -> list[str]:
    gd1, gd2 = results.get("gd1", PoolResult("gd1")), results.get("gd2", PoolResult("gd2"))
    n = f"median N={settings.rounds}"

    def probe(r: PoolResult, i: int) -> float | None:
        return r.probe_ms[i] if len(r.probe_ms) > i else None

    return [
        "| measurement | glusterd1 | glusterd2 | ratio | target | met? |",
        "|---|---|---|---|---|---|",
        _row(f"replica-3 `volume create` (ms, {n})", _median(gd1.create_ms), _median(gd2.create_ms), TARGET),
        _row(f"replica-3 `volume start` CLI returns (ms, {n})", _median(gd1.start_ms), _median(gd2.start_ms), TARGET),
        _row(f"replica-3 `volume start` → status shows 3 bricks online (ms, {n})",
             _median(gd1.online_ms), _median(gd2.online_ms), None),
        _row(f"replica-3 `volume stop` (ms, {n})", _median(gd1.stop_ms), _median(gd2.stop_ms), TARGET),
        _row(f"replica-3 `volume delete` (ms, {n})", _median(gd1.delete_ms), _median(gd2.delete_ms), TARGET),
        _row("join node 2: `peer probe` / `peer add` (ms, 1 sample)", probe(gd1, 0), probe(gd2, 0), None),
        _row("join node 3: `peer probe` / `peer add` (ms, 1 sample)", probe(gd1, 1), probe(gd2, 1), None),
        _row("first join → every node sees all peers online (ms, 1 sample)", gd1.all_online_ms, gd2.all_online_ms,
             None),
    ]


def failover_table(f: Failover) -> list[str]:
    def s(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    return [
        "| glusterd2 pool, etcd leader lost (no glusterd1 counterpart: it has no store leader) | glusterd2 |",
        "|---|---|",
        f"| node killed (its etcd member led; SIGKILL to glusterd2 + etcd) | {f.leader or '—'} |",
        f"| SIGKILL → `volume create` (2 bricks, surviving nodes) through {f.via or '—'} exits 0 (s) | "
        f"{s(f.recover_s)} |",
        f"| tries (fresh volume each; each try `--timeout` capped) | {f.tries or '—'} |",
        f"| first error seen | {f.first_error.replace('|', '/') or '—'} |",
        f"| new etcd leader | {f.new_leader or '—'} |",
        f"| SIGKILL → a survivor's `peer list` shows the killed node offline (s; polled after the create) | "
        f"{s(f.offline_s)} |",
        f"| restart → a survivor's `peer list` shows it online (s) | {s(f.peer_online_s)} |",
        f"| restart → its own CLI answers `peer list` (s) | {s(f.own_cli_s)} |",
        f"| restart → all 3 etcd endpoints answer `endpoint status` (s) | {s(f.etcd_s)} |",
        f"| restarted node lists the volume created while it was down | "
        f"{'—' if f.lists_volume is None else ('yes' if f.lists_volume else 'no')} |",
    ]


def samples(results: dict[str, PoolResult]) -> list[str]:
    def fmt(values: Sequence[float]) -> str:
        return " ".join(f"{v:.0f}" for v in values) or "—"

    lines = []
    for key, r in results.items():
        lines += [f"- {key} create ms: {fmt(r.create_ms)}", f"- {key} start ms: {fmt(r.start_ms)}",
                  f"- {key} start → online ms: {fmt(r.online_ms)}", f"- {key} stop ms: {fmt(r.stop_ms)}",
                  f"- {key} delete ms: {fmt(r.delete_ms)}"]
    return lines


# --- entry point -------------------------------------------------------------------------------


def _addresses(text: str) -> list[str]:
    addresses = [a.strip() for a in text.split(",") if a.strip()]
    if len(addresses) != 3 or not all(a.startswith("127.") for a in addresses):
        raise argparse.ArgumentTypeError(f"{text}: give three loopback addresses, comma-separated")
    return addresses


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=5, help="timed create/start/stop/delete rounds per pool")
    p.add_argument("--only", choices=("gd1", "gd2"), help="run one pool only")
    p.add_argument("--gd1-addresses", type=_addresses, default="127.0.0.111,127.0.0.112,127.0.0.113")
    p.add_argument("--gd2-addresses", type=_addresses, default="127.0.0.101,127.0.0.102,127.0.0.103")
    p.add_argument("--glusterd", default=GLUSTERD)
    p.add_argument("--gluster", default=GLUSTER)
    p.add_argument("--glusterd2", default=_next_to_python("glusterd2"))
    p.add_argument("--gd2ctl", default=_next_to_python("gd2ctl"))
    p.add_argument("--poll-interval", type=float, default=0.020, help="seconds between status/peer polls")
    p.add_argument("--online-timeout", type=float, default=60.0, help="seconds to wait for bricks online")
    p.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to wait for a daemon")
    p.add_argument("--join-timeout", type=float, default=60.0, help="seconds to wait for all peers online")
    p.add_argument("--recover-timeout", type=float, default=120.0,
                   help="seconds to wait for a create after the leader's kill, and for the restarted node")
    p.add_argument("--attempt-timeout", type=float, default=10.0, help="gd2ctl --timeout of each create try")
    p.add_argument("--no-failover", action="store_true", help="skip the leader-loss test")
    p.add_argument("--tmp-parent", default="/var/tmp", help="where the temp dir goes (needs xattrs)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs) at the end")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if set(args.gd1_addresses) & set(args.gd2_addresses):
        p.error("the two pools need different addresses")
    return args


def make_pools(args: argparse.Namespace, tmp: Path) -> list[Pool]:
    pools = []
    if args.only in (None, "gd1"):
        pools.append(Pool("gd1", [Glusterd1Node(tmp / f"gd1-n{i + 1}", a, args.glusterd, args.gluster,
                                                name=f"glusterd1@{a}") for i, a in enumerate(args.gd1_addresses)]))
    if args.only in (None, "gd2"):
        pools.append(Pool("gd2", [Glusterd2Node(tmp / f"gd2-n{i + 1}", a, args.glusterd2, args.gd2ctl,
                                                name=f"glusterd2@{a}") for i, a in enumerate(args.gd2_addresses)]))
    return pools


def check_binaries(args: argparse.Namespace) -> None:
    tools = []
    if args.only in (None, "gd1"):
        tools += [args.glusterd, args.gluster]
    if args.only in (None, "gd2"):
        tools += [args.glusterd2, args.gd2ctl]
        if not args.no_failover:
            tools.append(_which("etcdctl"))
    for tool in tools:
        if not os.access(tool, os.X_OK):
            raise BenchError(f"{tool} not found or not executable")


def _which(name: str) -> str:
    return shutil.which(name) or name


def header(args: argparse.Namespace, pools: Sequence[Pool], load_start: str) -> list[str]:
    lines = [
        "# bench_pool: 3-node glusterd2 pool vs 3-node glusterd1 pool (replica 3), and leader loss",
        "",
        f"- date (UTC) {datetime.now(UTC):%Y-%m-%d %H:%M}; kernel {platform.release()}; {os.cpu_count()} CPUs",
        f"- loadavg at start {load_start}",
    ]
    for pool in pools:
        where = ", ".join(node.address for node in pool.nodes)
        if pool.key == "gd1":
            lines.append(f"- glusterd1: {_version([args.glusterd, '--version'])} on {where}")
        else:
            lines.append(f"- glusterd2: {_version([args.glusterd2, '--version'])} on {where} ({args.glusterd2})")
    return lines


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the daemons


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings = Settings(args.rounds, args.poll_interval, args.online_timeout, args.ready_timeout, args.join_timeout,
                        args.recover_timeout, args.attempt_timeout, not args.no_failover)
    try:
        check_binaries(args)
    except BenchError as exc:
        print(f"bench_pool: {exc}", file=sys.stderr)
        return 2
    load_start = _loadavg()
    guard = DefaultPathGuard() if args.only in (None, "gd1") else None
    results: dict[str, PoolResult] = {}
    failover: Failover | None = None
    status = 0
    with temp_root(args.tmp_parent, args.keep) as root:
        pools = make_pools(args, root)
        try:
            results, failover = run_all(pools, root, settings)
        except BenchError as exc:
            print(f"bench_pool: {exc}", file=sys.stderr)
            status = 1
        finally:
            notes = guard.restore() if guard else []
        if status or any(r.error for r in results.values()) or (failover and failover.error):
            _print_logs(root)
    for note in notes:
        print(f"bench_pool: {note}", file=sys.stderr)
    if status:
        return status
    print("\n".join(header(args, pools, load_start)))
    print(f"- loadavg at end {_loadavg()}")
    print("\n" + "\n".join(table(results, settings)))
    print("\nRatio = glusterd2 / glusterd1. All ops go through node 1; each CLI process is timed on its own. "
          f"Start → online polls node 1's `volume status` every {settings.poll_s * 1000:g} ms.")
    for key, r in results.items():
        if r.error:
            print(f"\n**{key} failed** ({r.error}); its figures cover the rounds before that.")
    if failover is not None:
        print("\n" + "\n".join(failover_table(failover)))
        if failover.error:
            print(f"\n**leader-loss test failed** ({failover.error})")
    print("\nSamples (run order):")
    print("\n".join(samples(results)))
    failed = any(r.error for r in results.values()) or (failover is not None and failover.error is not None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
