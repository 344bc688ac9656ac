"""A pool of real glusterd2 daemons on 127.0.x.y: joins, etcd membership, volumes across nodes.

Each daemon has its own address, directories and embedded etcd (same
ports, different addresses).  Brick directories live on one tmpfs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gd2.api import routes
from gd2.testing import DaemonProcess, http_over_unix, mounted, venv_bin


def _peers(gd2: DaemonProcess) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = json.loads(gd2.ctl("--json", "peer", "list", check=True).stdout)["peers"]
    return peers


def _etcd_members(gd2: DaemonProcess) -> list[dict[str, Any]]:
    result = gd2.etcdctl("member", "list", "-w", "json")
    members: list[dict[str, Any]] = json.loads(result.stdout)["members"]
    return members


@pytest.fixture
def pool3(daemon_factory: Callable[..., DaemonProcess]) -> list[DaemonProcess]:
    nodes = [daemon_factory(name=f"node{i}") for i in (1, 2, 3)]
    for other in nodes[1:]:
        result = other.ctl("peer", "list", check=True)
        assert other.address in result.stdout
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    return nodes


def test_three_nodes_join_and_etcd_grows_to_three(pool3: list[DaemonProcess]) -> None:
    for node in pool3:
        peers = _peers(node)
        assert sorted(p["addresses"][0] for p in peers) == sorted(n.address for n in pool3), peers
        assert all(p["online"] for p in peers)
    # The third node may join as a client first (etcd wants its newest member settled for 5 s)
    # and be promoted moments later.
    ids = {p["id"] for p in _peers(pool3[0])}
    deadline = time.monotonic() + 60
    while True:
        members = _etcd_members(pool3[0])
        if len(members) == 3 and all(m.get("name") for m in members):
            break
        assert time.monotonic() < deadline, f"etcd did not grow to 3 started members: {members}"
        time.sleep(0.5)
    assert {m["name"] for m in members} == ids
    # The promoted node restarts in-process (its API is briefly away); then all agree on the roles.
    deadline = time.monotonic() + 60
    while True:
        answer = pool3[2].ctl("--json", "peer", "list")
        if answer.returncode == 0 and sorted(p["etcd"] for p in json.loads(answer.stdout)["peers"]) == \
                ["member"] * 3:
            break
        assert time.monotonic() < deadline, f"roles not settled: {answer.stdout} {answer.stderr}"
        time.sleep(0.3)
    # Every member joined with the pool CA's certificate, and etcd speaks https only, on both URLs.
    cas = {(node.statedir / "tls" / "ca.pem").read_bytes() for node in pool3}
    assert len(cas) == 1
    for member in _etcd_members(pool3[1]):  # through a joined node's own certificate
        assert all(url.startswith("https://") for url in (*member["peerURLs"], *member["clientURLs"])), member


def test_replica_3_across_nodes_mounted_through_two_nodes(pool3: list[DaemonProcess], brick_fs: Path,
                                                          tmp_path: Path) -> None:
    one, _two, three = pool3
    bricks = [f"{node.address}:{brick_fs / f'r3-{i}'}" for i, node in enumerate(pool3)]
    one.ctl("volume", "create", "r3", "replica", "3", *bricks, check=True)
    info = json.loads(three.ctl("--json", "volume", "info", "r3", check=True).stdout)
    assert len(info["bricks"]) == 3
    three.ctl("volume", "start", "r3", check=True)
    try:
        status = json.loads(one.ctl("--json", "volume", "status", "r3", check=True).stdout)
        assert len(status["bricks"]) == 3
        payload = os.urandom(256 * 1024)
        with mounted(one, "r3", tmp_path / "m1", tmp_path / "m1.log") as m1:
            (m1 / "data.bin").write_bytes(payload)
        for i in range(3):
            assert (brick_fs / f"r3-{i}" / "data.bin").read_bytes() == payload, "replicated to every brick"
        with mounted(three, "r3", tmp_path / "m3", tmp_path / "m3.log") as m3:
            assert (m3 / "data.bin").read_bytes() == payload
    finally:
        one.ctl("volume", "stop", "r3", check=True)
    one.ctl("volume", "delete", "r3", check=True)
    assert _peers(three) and json.loads(three.ctl("--json", "volume", "list").stdout or "{}") is not None


def test_an_option_set_on_one_node_reaches_a_client_mounted_through_another(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path, tmp_path: Path) -> None:
    one, two = daemon_factory(name="one"), daemon_factory(name="two")
    one.ctl("peer", "add", two.address, check=True, timeout=120)
    one.ctl("volume", "create", "xv", "replica", "2", f"{one.address}:{brick_fs / 'x1'}",
            f"{two.address}:{brick_fs / 'x2'}", "force", check=True)
    one.ctl("volume", "start", "xv", check=True)
    try:
        with mounted(two, "xv", tmp_path / "m", tmp_path / "m.log") as mnt:
            (mnt / "before").write_text("x")
            one.ctl("volume", "set", "xv", "performance.write-behind", "off", check=True)
            log = tmp_path / "m.log"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and log.read_text().count("switched to graph") < 2:
                os.listdir(mnt)
                time.sleep(0.2)
            assert log.read_text().count("switched to graph") >= 2, "the client never took the new volfile"
            assert (mnt / "before").read_text() == "x"
    finally:
        one.ctl("volume", "stop", "xv", check=True)


def test_a_removed_live_node_leaves_and_starts_over_alone(daemon_factory: Callable[..., DaemonProcess]) -> None:
    one, two = daemon_factory(name="one"), daemon_factory(name="two")
    one.ctl("peer", "add", two.address, check=True, timeout=120)
    old_cluster = _peers(two)[0]["cluster_id"]
    one.ctl("peer", "remove", two.address, check=True, timeout=120)
    assert [p["addresses"][0] for p in _peers(one)] == [one.address]
    deadline = time.monotonic() + 60
    while True:  # it restarts as a pool of its own
        result = two.ctl("--json", "peer", "list")
        if result.returncode == 0:
            peers = json.loads(result.stdout)["peers"]
            if len(peers) == 1 and peers[0]["cluster_id"] != old_cluster:
                break
        assert time.monotonic() < deadline, f"node two did not start over: {result.stdout} {result.stderr}"
        time.sleep(0.3)
    one.ctl("peer", "add", two.address, check=True, timeout=120)  # and can join again
    assert len(_peers(one)) == 2


def test_the_local_api_answers_throughout_a_restart_into_the_pool(
        daemon_factory: Callable[..., DaemonProcess]) -> None:
    """A joining node restarts in-process; its Unix socket stays open and requests wait, none is refused."""
    one, two = daemon_factory(name="one"), daemon_factory(name="two")
    own_cluster, pool_cluster = _peers(two)[0]["cluster_id"], _peers(one)[0]["cluster_id"]
    seen: list[tuple[int, Any]] = []
    failures: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() and len(seen) < 5000:
            try:
                seen.append(http_over_unix(two.socket_path, "GET", routes.PEERS, timeout=30))
            except OSError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        one.ctl("peer", "add", two.address, check=True, timeout=120)
        time.sleep(1)  # a few more requests after the node came back
    finally:
        done.set()
        poller.join(timeout=60)
    assert failures == []
    assert all(status == 200 for status, _ in seen), [s for s in seen if s[0] != 200][:3]
    clusters = [{p["cluster_id"] for p in body["peers"]} for _, body in seen]
    assert clusters[0] == {own_cluster} and clusters[-1] == {pool_cluster}


def test_events_watch_follows_its_node_restarting_into_the_pool(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    """`gd2ctl events watch` on a node that joins a pool goes on, now with the pool's events."""
    one, two = daemon_factory(name="one"), daemon_factory(name="two")
    watcher = subprocess.Popen([venv_bin("gd2ctl"), "--json", "events", "watch"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "GD2_SOCKET": str(two.socket_path)})
    try:
        _until(lambda: two.stderr_path.read_text(errors="replace").count(routes.EVENTS_STREAM) >= 1)
        one.ctl("peer", "add", two.address, check=True, timeout=120)
        _until(lambda: two.stderr_path.read_text(errors="replace").count(routes.EVENTS_STREAM) >= 2)  # re-opened
        one.ctl("volume", "create", "followed", f"{one.address}:{brick_fs / 'followed'}", "force", check=True)
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout or ()], daemon=True)
        reader.start()
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["kind"] != "volume.create":
            seen.append(json.loads(lines.get(timeout=30)))  # queue.Empty: it never came
        assert seen[-1]["volume"] == "followed"
        assert watcher.poll() is None
    finally:
        watcher.kill()
        watcher.wait(timeout=30)
        for pipe in (watcher.stdout, watcher.stderr):
            if pipe is not None:
                pipe.close()


def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_volume_right_after_the_joins_spans_a_node_being_promoted(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    """The third node of a quick succession joins as an etcd client and restarts in-process when
    promoted moments later; a create sent to it meanwhile waits for it rather than failing."""
    nodes = [daemon_factory(name=f"node{i}") for i in (1, 2, 3)]
    for other in nodes[1:]:
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    bricks = [f"{n.address}:{brick_fs / f'quick-{i}'}" for i, n in enumerate(nodes)]
    nodes[0].ctl("volume", "create", "quick", "replica", "3", *bricks, "force", check=True)
    nodes[0].ctl("volume", "start", "quick", check=True)
    nodes[0].ctl("volume", "stop", "quick", check=True)


def test_the_tcp_api_answers_throughout_a_promotion(daemon_factory: Callable[..., DaemonProcess]) -> None:
    """The third of three quick joins starts as an etcd client and is promoted moments later, which
    restarts it in-process; its https listener (same certificate) stays open and requests wait."""
    nodes = [daemon_factory(name=f"node{i}") for i in (1, 2, 3)]
    for other in nodes[1:]:
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    third = nodes[2]
    secret = (third.statedir / "auth").read_bytes().strip()
    token = hmac.new(secret, b"gd2-rest-token-v1", hashlib.sha256).hexdigest()
    context = ssl.create_default_context(cafile=str(third.statedir / "tls" / "ca.pem"))
    statuses: list[int] = []
    failures: list[str] = []

    def starts() -> int:  # the first start, the join, then the promotion
        return third.stderr_path.read_text(errors="replace").count("glusterd2 ready")

    deadline = time.monotonic() + 60
    after = 0  # requests since the promotion's restart completed
    while after < 10:
        assert time.monotonic() < deadline, f"no promotion seen: {starts()} starts, {statuses[-3:]}"
        after = after + 1 if starts() >= 3 else 0
        request = urllib.request.Request(f"https://{third.address}:{third.rest_port}{routes.PEERS}",
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as reply:
                statuses.append(reply.status)
        except (OSError, urllib.error.HTTPError) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    assert failures == [] and set(statuses) == {200}


def test_events_of_the_whole_pool_are_seen_from_any_node(daemon_factory: Callable[..., DaemonProcess],
                                                          brick_fs: Path) -> None:
    one, two = daemon_factory(name="one"), daemon_factory(name="two")
    one.ctl("peer", "add", two.address, check=True, timeout=120)
    two.ctl("volume", "create", "ev", f"{one.address}:{brick_fs / 'ev1'}", f"{two.address}:{brick_fs / 'ev2'}",
            "force", check=True)
    two.ctl("volume", "start", "ev", check=True)
    ids = {p["addresses"][0]: p["id"] for p in _peers(one)}

    def kinds_seen_by_one() -> dict[str, list[dict[str, Any]]]:
        events = json.loads(one.ctl("--json", "events", "list", check=True).stdout)["events"]
        seen: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            seen.setdefault(event["kind"], []).append(event)
        return seen

    deadline = time.monotonic() + 30
    while True:
        seen = kinds_seen_by_one()
        if {"peer.add", "volume.create", "volume.start"} <= set(seen) and len(seen.get("brick.start", [])) >= 2:
            break
        assert time.monotonic() < deadline, f"events missing: {sorted(seen)}"
        time.sleep(0.3)
    assert seen["peer.add"][0]["peer"] == ids[two.address]
    assert seen["peer.add"][0]["node"]["id"] == ids[one.address], "emitted where the operation ran"
    assert seen["volume.create"][0]["node"]["id"] == ids[two.address]
    assert {e["node"]["id"] for e in seen["brick.start"]} == set(ids.values()), "each brick's own node"
    two.ctl("volume", "stop", "ev", check=True)
