"""The event stream against a real daemon: gd2ctl events, the live stream, webhooks."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess
from gd2.testing.daemon import venv_bin
from gd2.testing.webhook_receiver import WebhookReceiver

# The receivers listen here (port 0: any free one), inside this session's 127.0.N.0/24 (conftest.py).
RECEIVER_ADDRESS = f"127.0.{int(os.environ.get('GD2_TEST_NET', '0'))}.250"
SECRET = "s3cret-for-tests"
LIFE = ["volume.create", "volume.start", "volume.stop", "volume.delete"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver(RECEIVER_ADDRESS, secret=SECRET).start()
    try:
        yield hook
    finally:
        hook.stop()


def _fast_retries(factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    return factory("--webhook-max-backoff", "0.5")


def _volume_kinds(events: list[dict[str, object]]) -> list[object]:
    return [e["kind"] for e in events if str(e["kind"]).startswith("volume.")]


def test_webhook_gets_a_volume_life_signed_including_while_down_and_across_a_restart(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path, receiver: WebhookReceiver) -> None:
    gd2 = _fast_retries(daemon_factory)
    added = gd2.ctl("events", "webhook-add", receiver.url, "--secret", SECRET, check=True)
    assert "success" in added.stdout
    [hook] = json.loads(gd2.ctl("--json", "events", "webhook-list", check=True).stdout)["webhooks"]
    assert hook["url"] == receiver.url and hook["has_secret"] is True and "secret" not in hook
    assert SECRET not in gd2.ctl("--json", "debug", "store", "webhooks/", check=True).stdout

    gd2.ctl("volume", "create", "life", f"{gd2.address}:{brick_fs}/b1", check=True)
    receiver.wait_for(lambda events: "volume.create" in _volume_kinds(events), timeout=30)

    receiver.stop()  # the receiver is down while the volume starts and stops...
    gd2.ctl("volume", "start", "life", check=True)
    gd2.ctl("volume", "stop", "life", check=True)
    assert gd2.stop() == 0  # ...and glusterd2 restarts meanwhile: delivery resumes from its cursor in etcd
    gd2.start()
    receiver.start()  # back on the same port
    gd2.ctl("volume", "delete", "life", check=True)

    events = receiver.wait_for(lambda events: _volume_kinds(events) == LIFE, timeout=60)
    assert all(d.signature_valid for d in receiver.deliveries), "every delivery is signed with the secret"
    assert all(d.event_id == d.event["id"] for d in receiver.deliveries)
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["volume.create"]["volume"] == "life"
    assert by_kind["volume.start"]["node"]["id"] == json.loads((gd2.statedir / "node.json").read_text())["peer_id"]
    assert {"brick.start", "brick.stop"} <= set(by_kind), "the brick's own events come too"

    listed = gd2.ctl("events", "list", check=True).stdout
    for kind in LIFE:
        assert kind in listed
    ids = [e["id"] for e in json.loads(gd2.ctl("--json", "events", "list", check=True).stdout)["events"]]
    assert ids == sorted(ids)
    later = json.loads(gd2.ctl("--json", "events", "list", "--since", ids[-2], check=True).stdout)["events"]
    assert [e["id"] for e in later] == ids[-1:]

    def delivered_all(_: object) -> bool:
        [state] = json.loads(gd2.ctl("--json", "events", "webhook-list", check=True).stdout)["webhooks"]
        return state["delivered"] == events[-1]["id"] and not state.get("last_error")

    _eventually(delivered_all)


def test_a_refused_event_is_retried_then_delivered(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path,
                                                   receiver: WebhookReceiver) -> None:
    gd2 = _fast_retries(daemon_factory)
    receiver.status = 503
    gd2.ctl("events", "webhook-add", receiver.url, check=True)  # no secret: no signature header
    gd2.ctl("volume", "create", "busy", f"{gd2.address}:{brick_fs}/b1", check=True)

    def failing(_: object) -> bool:
        [state] = json.loads(gd2.ctl("--json", "events", "webhook-list", check=True).stdout)["webhooks"]
        return state.get("last_error") == "HTTP 503"

    _eventually(failing)
    assert "failing" in gd2.ctl("events", "webhook-list", check=True).stdout
    receiver.status = 200
    [event] = receiver.wait_for(lambda events: _volume_kinds(events) == ["volume.create"], timeout=30)
    assert event["volume"] == "busy"
    assert all(d.signature is None for d in receiver.deliveries)


def test_events_watch_prints_a_create_as_it_happens(gd2: DaemonProcess, brick_fs: Path) -> None:
    env = {**os.environ, "GD2_SOCKET": str(gd2.socket_path)}
    lines: queue.Queue[str] = queue.Queue()
    watchers = [subprocess.Popen([venv_bin("gd2ctl"), *args, "events", "watch"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env) for args in ([], ["--json"])]
    readers = [threading.Thread(target=_pump, args=(w, i, lines), daemon=True) for i, w in enumerate(watchers)]
    for reader in readers:
        reader.start()
    try:
        _eventually(lambda _: _subscribers(gd2) >= 2)
        gd2.ctl("volume", "create", "watched", f"{gd2.address}:{brick_fs}/w", check=True)
        got: dict[int, str] = {}
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            try:
                item = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            index, _, line = item.partition(":")
            if "volume.create" in line:
                got[int(index)] = line
        assert set(got) == {0, 1}, f"watchers printed {got}"
        assert "watched" in got[0] and not got[0].startswith("{")
        assert json.loads(got[1])["volume"] == "watched"

        assert gd2.stop() == 0  # the stream ends with the daemon; the watchers notice and exit
        for watcher in watchers:
            assert watcher.wait(20) == 1
            assert "ended the event stream" in (watcher.stderr.read() if watcher.stderr else "")
    finally:
        for watcher in watchers:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()
        for reader in readers:
            reader.join(10)
        for watcher in watchers:
            for pipe in (watcher.stdout, watcher.stderr):
                if pipe is not None:
                    pipe.close()


def test_bad_webhook_input_is_refused_and_nothing_stored(gd2: DaemonProcess) -> None:
    for url in ("ftp://127.0.0.1/x", "not a url", "http:///nohost"):
        refused = gd2.ctl("events", "webhook-add", url)
        assert refused.returncode == 1, url
        assert "webhook URL" in refused.stderr and refused.stderr.count("\n") == 1
    status, body = gd2.api("POST", "/v1/events/webhooks", {"url": "file:///etc/passwd"})
    assert status == 422 and body["error"]["code"] == "invalid"
    status, body = gd2.api("POST", "/v1/events/webhooks", {"url": "http://127.0.0.1/x", "extra": 1})
    assert status == 422
    assert json.loads(gd2.ctl("--json", "debug", "store", "webhooks/", check=True).stdout)["entries"] == []

    url = f"http://{RECEIVER_ADDRESS}:9/x"
    gd2.ctl("events", "webhook-add", url, check=True)
    duplicate = gd2.ctl("events", "webhook-add", url.replace("http", "HTTP", 1))
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    status, body = gd2.api("POST", "/v1/events/webhooks", {"url": url})
    assert status == 409 and body["error"]["code"] == "conflict"
    missing = gd2.ctl("events", "webhook-delete", "0123456789ab")
    assert missing.returncode == 1 and "no webhook" in missing.stderr
    status, body = gd2.api("DELETE", "/v1/events/webhooks/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert len(json.loads(gd2.ctl("--json", "debug", "store", "webhooks/", check=True).stdout)["entries"]) == 1

    gd2.ctl("events", "webhook-delete", url, check=True)  # by URL (the id works too)
    assert "No webhooks" in gd2.ctl("events", "webhook-list", check=True).stdout
    bad_since = gd2.ctl("events", "list", "--since", "yesterday")
    assert bad_since.returncode == 1 and "not an event id" in bad_since.stderr


def _pump(process: subprocess.Popen[str], index: int, lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(f"{index}:{line.rstrip()}")


def _subscribers(gd2: DaemonProcess) -> int:
    # Each watcher's request is logged once its stream has started.
    text = gd2.stderr_path.read_text(errors="replace")
    return text.count("/v1/events/stream")


def _eventually(check: Callable[[object], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check(None):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_webhook_delivery_moves_to_a_survivor_when_its_leader_dies(
        daemon_factory: Callable[..., DaemonProcess], brick_fs: Path, receiver: WebhookReceiver) -> None:
    nodes = [daemon_factory("--webhook-max-backoff", "0.5", name=f"node{i}") for i in (1, 2, 3)]
    for other in nodes[1:]:
        nodes[0].ctl("peer", "add", other.address, check=True, timeout=120)
    nodes[0].ctl("events", "webhook-add", receiver.url, "--secret", SECRET, check=True)
    nodes[0].ctl("volume", "create", "before", f"{nodes[0].address}:{brick_fs}/before", check=True)
    receiver.wait_for(lambda events: "before" in {e.get("volume") for e in events}, timeout=60)
    deadline = time.monotonic() + 60
    while True:  # the etcd cluster has grown to three (so it keeps a quorum without the leader's node)
        members = json.loads(nodes[0].ctl("--json", "peer", "list", check=True).stdout)["peers"]
        if sorted(p["etcd"] for p in members) == ["member"] * 3:
            break
        assert time.monotonic() < deadline, members
        time.sleep(0.5)
    dump = nodes[0].ctl("--json", "debug", "store", "leaders/", check=True).stdout
    leader_id = json.loads(dump)["entries"][0]["value"]["peer_id"]
    ids = {n.address: json.loads((n.statedir / "node.json").read_text())["peer_id"] for n in nodes}
    leader = next(n for n in nodes if ids[n.address] == leader_id)
    survivor = next(n for n in nodes if n is not leader)
    leader.kill()
    leader.kill_leftover_etcd()
    deadline = time.monotonic() + 60
    while survivor.ctl("volume", "create", "after", f"{survivor.address}:{brick_fs}/after").returncode != 0:
        assert time.monotonic() < deadline, "the pool did not accept a create without the leader's node"
        time.sleep(0.5)
    events = receiver.wait_for(lambda events: "after" in {e.get("volume") for e in events}, timeout=60)
    after = next(e for e in events if e.get("volume") == "after")
    assert after["node"]["id"] == ids[survivor.address]
    assert all(d.signature_valid for d in receiver.deliveries)
