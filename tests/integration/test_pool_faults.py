"""The pool under faults, with real daemons: crashes mid-transaction, a lost etcd leader,
whole-pool restarts, dead peers, races between nodes, callers without a certificate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from gd2.brickfs import VOLUME_ID_XATTR
from gd2.errors import GD2Error
from gd2.peer import PeerClient, StepRequest
from gd2.testing import DaemonProcess

CREATE_POINTS = [f"vol-create.{step}:{when}" for step in ("CheckBricks", "PrepareBricks", "StoreVolume")
                 for when in ("before", "after")]


def _peers(gd2: DaemonProcess) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = json.loads(gd2.ctl("--json", "peer", "list", check=True).stdout)["peers"]
    return peers


def _etcdctl(node: DaemonProcess, *args: str) -> Any:
    return json.loads(node.etcdctl(*args, "-w", "json").stdout)


def _members(node: DaemonProcess) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = _etcdctl(node, "member", "list")["members"]
    return members


def _volume_names(gd2: DaemonProcess) -> list[str]:
    data = json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)
    return [v["name"] if isinstance(v, dict) else str(v) for v in data.get("volumes", [])]


def _until(what: str, check: Callable[[], bool], limit: float = 60) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > limit:
            raise AssertionError(f"not within {limit}s: {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def _pool(daemon_factory: Callable[..., DaemonProcess], count: int) -> list[DaemonProcess]:
    """``count`` nodes in one pool, with etcd grown to min(count, 3) started members."""
    nodes = [daemon_factory(name=f"node{i + 1}") for i in range(count)]
    for other in nodes[1:]:
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    _until("etcd has grown", lambda: sum(1 for m in _members(nodes[0]) if m.get("name"))
           == min(count, 3), limit=60)
    return nodes


def _xattr(path: Path) -> bytes | None:
    try:
        return os.getxattr(path, VOLUME_ID_XATTR)
    except OSError:
        return None


def _restart(node: DaemonProcess, env: dict[str, str] | None = None) -> None:
    node.stop()
    node.env = env or {}
    node.start()


# ---- a crash of the initiator at every step of volume create ------------------------------------

def test_initiator_killed_at_each_create_step_leaves_no_half_volume(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    one, two = _pool(daemon_factory, 2)
    for n, point in enumerate(CREATE_POINTS):
        name = f"crash{n}"
        bricks = [brick_fs / f"{name}-a", brick_fs / f"{name}-b"]
        _restart(one, {"GD2_FAULT_POINT": point})
        result = one.ctl("volume", "create", name, "replica", "2", f"{one.address}:{bricks[0]}",
                         f"{two.address}:{bricks[1]}")
        assert result.returncode != 0, f"{point}: the initiator should have died"
        assert one.process is not None and one.process.wait(30) == -9, f"{point}: killed by its fault point"
        one.process = None
        one.env = {}
        one.start()  # recovers its own transaction before serving
        assert name not in _volume_names(one), f"{point}: half-made volume left in the store"
        assert name not in _volume_names(two)
        for brick in bricks:
            assert not brick.exists() or _xattr(brick) is None, f"{point}: {brick} still marked"
            assert not brick.exists(), f"{point}: {brick} was created by the failed create and is still there"
        locks = two.ctl("--json", "debug", "store", "locks/").stdout
        assert name not in locks, f"{point}: lock left behind: {locks}"
    # and the pool still works
    bricks = [brick_fs / "ok-a", brick_fs / "ok-b"]
    one.ctl("volume", "create", "ok", "replica", "2", f"{one.address}:{bricks[0]}", f"{two.address}:{bricks[1]}",
            check=True)
    assert _xattr(bricks[0]) is not None and _xattr(bricks[1]) is not None


# ---- two nodes create the same name at once ---------------------------------------------------------

def test_concurrent_creates_of_one_name_on_two_nodes(daemon_factory: Callable[..., DaemonProcess],
                                                     brick_fs: Path) -> None:
    one, two = _pool(daemon_factory, 2)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    bricks = {"one": brick_fs / "race-one", "two": brick_fs / "race-two"}

    def create(label: str, node: DaemonProcess) -> None:
        results[label] = node.ctl("volume", "create", "race", f"{node.address}:{bricks[label]}")

    threads = [threading.Thread(target=create, args=(label, node)) for label, node in (("one", one), ("two", two))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    codes = sorted(r.returncode for r in results.values())
    assert codes == [0, 1], {k: (r.returncode, r.stderr) for k, r in results.items()}
    loser = next(label for label, r in results.items() if r.returncode != 0)
    assert "race" in results[loser].stderr
    assert not bricks[loser].exists(), "the loser's brick directory was undone"
    info = json.loads(one.ctl("--json", "volume", "info", "race", check=True).stdout)
    winner_brick = str(bricks["one" if loser == "two" else "two"])
    assert [b["path"] for b in info["bricks"]] == [winner_brick]


# ---- losing the etcd leader ------------------------------------------------------------------------

def test_killing_the_etcd_leader_node_keeps_the_pool_working(daemon_factory: Callable[..., DaemonProcess],
                                                             brick_fs: Path) -> None:
    nodes = _pool(daemon_factory, 3)
    status = _etcdctl(nodes[0], "endpoint", "status", "--cluster")
    leader_id = status[0]["Status"]["leader"]
    leader_url = next(s["Endpoint"] for s in status if s["Status"]["header"]["member_id"] == leader_id)
    victim = next(n for n in nodes if n.address in leader_url)
    survivors = [n for n in nodes if n is not victim]
    victim.kill()
    victim.kill_leftover_etcd()
    bricks = [f"{n.address}:{brick_fs / f'after-{i}'}" for i, n in enumerate(survivors)]

    last_error: list[str] = []

    def created() -> bool:
        result = survivors[0].ctl("volume", "create", "after", "replica", "2", *bricks, timeout=30)
        last_error[:] = [result.stderr.strip()]
        return result.returncode == 0

    try:
        _until("a volume create through a survivor succeeds", created, limit=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last error: {last_error}") from None
    assert "after" in _volume_names(survivors[1])
    # The killed node still counts as online until its lease runs out; its hook scripts are skipped at
    # once (it refuses connections), not after the reconnect retries meant for a node restarting.
    retries = [line for line in survivors[0].stderr_path.read_text(errors="replace").splitlines()
               if "trying again" in line and "hooks.Pre" in line]
    assert retries == []
    victim.start()
    _until("the killed node is online again",
           lambda: all(p["online"] for p in _peers(survivors[0])), limit=60)
    names = {m.get("name") for m in _members(survivors[0])}
    assert len(names) == 3 and "" not in names, "the node is an etcd member again"


# ---- the whole pool restarts ----------------------------------------------------------------------

@pytest.mark.parametrize("size", [2, 3])
def test_whole_pool_restart_in_reverse_order(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path,
                                             size: int) -> None:
    nodes = _pool(daemon_factory, size)
    bricks = [f"{n.address}:{brick_fs / f'whole-{i}'}" for i, n in enumerate(nodes)]
    nodes[0].ctl("volume", "create", "whole", "replica", str(size), *bricks, "force", check=True)
    nodes[0].ctl("volume", "start", "whole", check=True)
    for node in nodes:
        assert node.stop() == 0
    for node in reversed(nodes):
        node.start(wait=False)
    for node in nodes:
        node.wait_ready(timeout=90)

    def all_back() -> bool:
        peers = _peers(nodes[0])
        status = json.loads(nodes[-1].ctl("--json", "volume", "status", "whole").stdout or "{}")
        return (len(peers) == size and all(p["online"] for p in peers)
                and len(status.get("bricks", [])) == size and all(b["online"] for b in status["bricks"]))

    _until("peers online and bricks online after the restart", all_back, limit=60)
    info = json.loads(nodes[1].ctl("--json", "volume", "info", "whole", check=True).stdout)
    assert info["state"] == "Started"
    nodes[0].ctl("volume", "stop", "whole", check=True)


# ---- dead peers, wiped nodes ----------------------------------------------------------------------

def test_remove_a_dead_peer_with_force_then_readd_it_wiped(daemon_factory: Callable[..., DaemonProcess]) -> None:
    one, two, three = _pool(daemon_factory, 3)
    three.kill()
    three.kill_leftover_etcd()
    _until("node3 shows offline", lambda: not next(p for p in _peers(one) if p["addresses"][0] == three.address)
           ["online"], limit=30)
    refused = one.ctl("peer", "remove", three.address)
    assert refused.returncode == 1 and "offline" in refused.stderr and "force" in refused.stderr
    one.ctl("peer", "remove", three.address, "force", check=True)
    assert three.address not in {p["addresses"][0] for p in _peers(two)}
    assert len(_members(one)) == 2
    shutil.rmtree(three.workdir)
    three.start()
    one.ctl("peer", "add", three.address, check=True, timeout=120)
    # It may join as an etcd client and be promoted a moment later (an in-process restart).
    _until("etcd back to three started members",
           lambda: sum(1 for m in _members(one) if m.get("name")) == 3, limit=60)

    def all_online_seen_by_three() -> bool:
        answer = three.ctl("--json", "peer", "list")
        peers = json.loads(answer.stdout)["peers"] if answer.returncode == 0 else []
        return len(peers) == 3 and all(p["online"] for p in peers)

    _until("the re-added node sees the whole pool online", all_online_seen_by_three, limit=60)


def test_a_node_that_hosts_bricks_cannot_be_removed(daemon_factory: Callable[..., DaemonProcess],
                                                    brick_fs: Path) -> None:
    one, two = _pool(daemon_factory, 2)
    one.ctl("volume", "create", "held", f"{two.address}:{brick_fs / 'held'}", check=True)
    refused = one.ctl("peer", "remove", two.address, "force")
    assert refused.returncode == 1 and "hosts bricks of held" in refused.stderr
    assert len(_peers(one)) == 2


def test_adding_a_node_that_is_not_empty_is_refused(daemon_factory: Callable[..., DaemonProcess],
                                                    brick_fs: Path) -> None:
    one, other = daemon_factory(name="one"), daemon_factory(name="other")
    other.ctl("volume", "create", "mine", f"{other.address}:{brick_fs / 'mine'}", check=True)
    refused = one.ctl("peer", "add", other.address)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    assert len(_peers(one)) == 1 and len(_peers(other)) == 1
    unreachable = one.ctl("peer", "add", "127.0.0.254")
    assert unreachable.returncode == 1 and "127.0.0.254" in unreachable.stderr


# ---- the peer port wants a cluster certificate ----------------------------------------------------

def test_peer_rpc_without_a_cluster_certificate_is_refused(daemon_factory: Callable[..., DaemonProcess]) -> None:
    one, _two = _pool(daemon_factory, 2)

    async def call() -> str:
        with trio.fail_after(20):
            client = await PeerClient.trust_on_first_use(one.address, 24008)
            async with client:
                try:
                    await client.run_step(StepRequest(txn_id="x", reqid="x", step="vol-create.CheckBricks"))
                except GD2Error as exc:
                    return exc.code
        return "accepted"

    assert trio.run(call) == "peer_refused"


# ---- a member node that stays away is replaced ----------------------------------------------------

def test_a_member_node_down_past_its_grace_is_replaced_by_a_client(
        daemon_factory: Callable[..., DaemonProcess]) -> None:
    fast = ("--etcd-member-grace", "3", "--pool-check-interval", "1")
    nodes = [daemon_factory(*fast, name=f"node{i + 1}") for i in range(4)]
    for other in nodes[1:]:
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    def settled() -> bool:
        return sorted(p["etcd"] for p in _peers(nodes[0])) == ["client", "member", "member", "member"]

    _until("three members and one client", settled, limit=60)
    roles = {p["addresses"][0]: p["etcd"] for p in _peers(nodes[0])}
    client = next(n for n in nodes if roles[n.address] == "client")
    victim = next(n for n in nodes[1:] if roles[n.address] == "member")
    victim.kill()
    victim.kill_leftover_etcd()

    def replaced() -> bool:
        members = _members(nodes[0])
        urls = " ".join(u for m in members for u in m.get("peerURLs", []))
        return len(members) == 3 and client.address in urls and victim.address not in urls

    _until("the client node took the dead member's place", replaced, limit=90)
    victim.start(timeout=90)  # its member is gone: it comes back as a client

    def back() -> bool:
        peers = {p["addresses"][0]: p for p in _peers(nodes[0])}
        return all(p["online"] for p in peers.values()) and peers[victim.address]["etcd"] == "client"

    _until("the returning node is online, as a client", back, limit=60)
