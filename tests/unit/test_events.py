"""The event stream over FakeStore: model, ids, publisher, feed, webhooks, delivery (virtual time)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import trio
import trio.testing

from gd2.api.events import Event, EventKind, EventNode
from gd2.errors import Conflict, InvalidRequest, NotFound, Unavailable
from gd2.events import EventFeed, EventPublisher, recent
from gd2.events import keys as event_keys
from gd2.events.delivery import DeliveryFailed, WebhookDelivery
from gd2.events.ids import IdMaker, is_event_id
from gd2.events.signing import EVENT_HEADER, SIGNATURE_HEADER, backoff, sign, verify
from gd2.events.webhooks import WebhookRegistry, check_url, webhook_id
from gd2.testing import FakeStore

NODE = EventNode(id="5f0c1d2e-aaaa-bbbb-cccc-000000000001", name="node1")


class Clock:
    """Nanoseconds since the epoch, moved by hand."""

    def __init__(self, start: int = 1_700_000_000_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


class DownStore(FakeStore):
    """A store whose writes fail while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.puts = 0

    async def put(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> None:
        self.puts += 1
        if self.down:
            await trio.lowlevel.checkpoint()
            raise Unavailable("etcd is down")
        await super().put(key, kind, value, lease=lease)

    async def grant_lease(self, ttl: int) -> int:
        if self.down:
            await trio.lowlevel.checkpoint()
            raise Unavailable("etcd is down")
        return await super().grant_lease(ttl)


async def until(condition: Callable[[], bool], step: float = 0.01) -> None:
    """Poll ``condition`` (these tests run on virtual time, or finish within a few steps)."""
    while not condition():  # noqa: ASYNC110 - a condition on plain state, no event to wait for
        await trio.sleep(step)


def _event(n: int, kind: str = "volume.create") -> Event:
    return Event(id=f"{n:016x}-node1-{n:06x}", time="2024-01-01T00:00:00.000Z", kind=kind, node=NODE,
                 volume=f"v{n}", message=f"event {n}")


# ---- the model and ids -------------------------------------------------------------------------

def test_event_round_trips_and_ignores_fields_it_does_not_know() -> None:
    event = _event(1).model_copy(update={"options": {"a": "b"}})
    data = json.loads(event.model_dump_json(exclude_none=True))
    assert "brick" not in data and data["options"] == {"a": "b"}
    assert Event.model_validate({**data, "from_a_newer_node": 1}) == event
    assert str(EventKind.VOLUME_START) == "volume.start"


def test_ids_sort_by_time_and_stay_increasing_when_the_clock_steps_back() -> None:
    maker = IdMaker(NODE.id)
    clock = Clock()
    ids = []
    for step in (0, 0, 1_000, -5_000_000, 2_000_000_000):
        clock.now += step
        ids.append(maker.next(clock.now)[0])
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(is_event_id(i) for i in ids)
    assert ids[0].split("-")[1] == "5f0c1d2e"
    assert not is_event_id("yesterday") and not is_event_id("../x")


# ---- the publisher -----------------------------------------------------------------------------

async def test_publisher_stores_events_in_order_on_a_lease() -> None:
    store = FakeStore()
    publisher = EventPublisher(store, NODE, retention=60, clock=Clock())
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run)
        for n in range(5):
            publisher.emit(EventKind.VOLUME_SET, volume="gv0", options={"k": str(n)})
        await until(lambda: publisher.written == 5, 0.01)
        nursery.cancel_scope.cancel()
    entries = await store.list_prefix(event_keys.EVENTS)
    assert [e.value["options"]["k"] for e in sorted(entries, key=lambda e: e.mod_revision)] == list("01234")
    assert all(e.kind == "event" and e.value["node"] == {"id": NODE.id, "name": "node1"} for e in entries)
    lease = store._data[entries[0].key][2]  # on a lease: the retention window removes it
    assert lease is not None
    store.expire_lease(lease)
    assert await store.list_prefix(event_keys.EVENTS) == []


async def test_emit_never_blocks_and_keeps_the_newest_while_the_store_is_down(
        autojump_clock: trio.testing.MockClock) -> None:
    store = DownStore()
    store.down = True
    publisher = EventPublisher(store, NODE, retention=60, capacity=3, clock=Clock())
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run)
        await trio.sleep(1)
        for n in range(10):
            publisher.emit(EventKind.VOLUME_CREATE, volume=f"v{n}")  # synchronous: returns at once
        assert publisher.pending == 3 and publisher.dropped == 7
        await trio.sleep(60)  # retried with backoff meanwhile, nothing lost of the newest three
        assert publisher.pending == 3
        store.down = False
        await until(lambda: publisher.pending == 0, 1)
        nursery.cancel_scope.cancel()
    stored = sorted(e.value["volume"] for e in await store.list_prefix(event_keys.EVENTS))
    assert stored == ["v7", "v8", "v9"]
    assert publisher.dropped == 0  # counted, logged, and reset once the store answered


def test_emit_swallows_its_own_failures() -> None:
    publisher = EventPublisher(FakeStore(), NODE, retention=60)
    publisher.emit(EventKind.VOLUME_SET, options={"k": 1})  # type: ignore[dict-item]
    assert publisher.pending == 0


# ---- reading -----------------------------------------------------------------------------------

async def test_recent_pages_forward_from_since_and_shows_the_latest_without() -> None:
    store = FakeStore()
    for n in (3, 1, 2, 5, 4):
        await store.put(event_keys.event(_event(n).id), "event", _event(n).model_dump(mode="json"))
    assert [e.volume for e in await recent(store, limit=2)] == ["v4", "v5"]
    assert [e.volume for e in await recent(store, since=_event(2).id, limit=2)] == ["v3", "v4"]
    assert await recent(store, since=_event(5).id) == []


async def test_feed_hands_new_events_to_subscribers_and_catches_up_after_a_broken_watch(
        autojump_clock: trio.testing.MockClock) -> None:
    store = FakeStore()
    await store.put(event_keys.event(_event(0).id), "event", _event(0).model_dump(mode="json"))
    feed = EventFeed(store, reconnect=1.0)
    got: list[str | None] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        await trio.sleep(0.1)
        with feed.subscribe(100) as subscription:
            await store.put(event_keys.event(_event(1).id), "event", _event(1).model_dump(mode="json"))
            got.append((await subscription.__anext__()).volume)
            store.break_watches()
            await store.put(event_keys.event(_event(2).id), "event", _event(2).model_dump(mode="json"))
            await trio.sleep(2)  # reconnected: found by listing
            await store.put(event_keys.event(_event(3).id), "event", _event(3).model_dump(mode="json"))
            got.append((await subscription.__anext__()).volume)
            got.append((await subscription.__anext__()).volume)
        nursery.cancel_scope.cancel()
    assert got == ["v1", "v2", "v3"]  # v0 was there before: not "new"


async def test_a_slow_subscriber_gets_a_dropped_marker_not_unbounded_memory() -> None:
    store = FakeStore()
    feed = EventFeed(store)
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        await trio.sleep(0.01)
        with feed.subscribe(2) as subscription:
            for n in range(1, 6):
                await store.put(event_keys.event(_event(n).id), "event", _event(n).model_dump(mode="json"))
            await trio.sleep(0.01)
            first, second, marker = [await subscription.__anext__() for _ in range(3)]
            await store.put(event_keys.event(_event(6).id), "event", _event(6).model_dump(mode="json"))
            after = await subscription.__anext__()
        nursery.cancel_scope.cancel()
    assert (first.volume, second.volume) == ("v1", "v2")
    assert marker.kind == "events.dropped" and marker.message.startswith("3 events dropped")
    assert marker.id == second.id and f"since={second.id}" in marker.message
    assert after.volume == "v6"


# ---- webhooks ----------------------------------------------------------------------------------

def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    # echo -n '{"id":"x"}' | openssl dgst -sha256 -hmac key
    signed = sign("key", b'{"id":"x"}')
    assert signed == "sha256=9ceaa4a60fd94e663e15900ab1b5d7c00781640620d1414798d6ed63ed6ff2d7"
    assert verify("key", b'{"id":"x"}', signed)
    assert not verify("key", b'{"id":"y"}', signed) and not verify("other", b'{"id":"x"}', signed)
    assert not verify("key", b'{"id":"x"}', None)


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n, first=0.5, cap=5) for n in range(1, 8)] == [0.5, 1, 2, 4, 5, 5, 5]
    assert backoff(10_000, first=0.5, cap=60) == 60


@pytest.mark.parametrize("url", ["ftp://h/x", "h:80/x", "http:///x", "http://h:99999/", "http://h/x#frag",
                                 "http://h/a b", ""])
def test_bad_webhook_urls(url: str) -> None:
    with pytest.raises(InvalidRequest, match="webhook URL"):
        check_url(url)


def test_webhook_urls_are_normalised() -> None:
    assert check_url(" HTTP://Example.COM:8080?a=1 ") == "http://example.com:8080/?a=1"
    assert webhook_id(check_url("https://h/x")) == webhook_id(check_url("HTTPS://H/x"))


async def test_registry_refuses_duplicates_hides_secrets_and_deletes_by_id_or_url() -> None:
    store = FakeStore()
    registry = WebhookRegistry(store)
    added = await registry.add("http://h:1/hook", "s")
    assert added.has_secret and added.id == webhook_id("http://h:1/hook")
    with pytest.raises(Conflict, match="already exists"):
        await registry.add("HTTP://H:1/hook", None)
    [listed] = await registry.list()
    assert "secret" not in listed.model_dump() and listed.has_secret
    with pytest.raises(NotFound):
        await registry.delete("http://h:2/hook")
    await registry.delete("http://h:1/hook")
    await registry.add("http://h:2/hook", None)
    await registry.delete(webhook_id("http://h:2/hook"))
    assert await registry.list() == [] and await store.list_prefix("") == []


class FakePoster:
    """Scripted answers: an int is an HTTP status, an exception is raised; then 200 forever."""

    def __init__(self, log: list[tuple[float, str, Mapping[str, str]]], script: list[int | Exception]) -> None:
        self.log = log
        self.script = script

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        await trio.lowlevel.checkpoint()
        self.log.append((trio.current_time(), json.loads(body)["id"], dict(headers)))
        answer = self.script.pop(0) if self.script else 200
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def _emit(store: FakeStore, n: int) -> None:
    await store.put(event_keys.event(_event(n).id), "event", _event(n).model_dump(mode="json"))


async def test_delivery_retries_with_backoff_signs_and_resumes_from_its_cursor(
        autojump_clock: trio.testing.MockClock) -> None:
    store = FakeStore()
    registry = WebhookRegistry(store)
    await registry.add("http://receiver/hook", "secret")
    await _emit(store, 1)  # after the webhook was added: delivered
    posts: list[tuple[float, str, Mapping[str, str]]] = []
    down = DeliveryFailed("ConnectError: refused")
    script: list[int | Exception] = [down, down, down, 200]

    feed = EventFeed(store)
    delivery = WebhookDelivery(store, feed, NODE, first_backoff=0.5, max_backoff=2, attempts=2,
                               poster=lambda: FakePoster(posts, script))
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        await nursery.start(delivery.run)
        await until(lambda: len(posts) >= 4, 0.1)
        await _emit(store, 2)
        await until(lambda: len(posts) >= 5, 0.1)
        nursery.cancel_scope.cancel()
    times = [t for t, _, _ in posts[:4]]
    assert [round(b - a, 3) for a, b in itertools.pairwise(times)] == [0.5, 1.0, 2.0]
    assert [event_id for _, event_id, _ in posts] == [_event(1).id] * 4 + [_event(2).id]
    headers = posts[-1][2]
    assert headers[EVENT_HEADER] == _event(2).id
    body = _event(2).model_dump_json(exclude_none=True).encode()
    assert verify("secret", body, headers[SIGNATURE_HEADER])
    [state] = await registry.list()
    assert state.delivered == _event(2).id and state.last_error is None

    # "Restart": a new delivery task takes over from the cursor; nothing is sent twice.
    await _emit(store, 3)
    posts.clear()
    feed = EventFeed(store)
    delivery = WebhookDelivery(store, feed, NODE, poster=lambda: FakePoster(posts, []))
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        await nursery.start(delivery.run)
        await until(lambda: bool(posts), 0.1)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert [event_id for _, event_id, _ in posts] == [_event(3).id]


async def test_a_refused_event_is_skipped_after_its_attempts(autojump_clock: trio.testing.MockClock) -> None:
    store = FakeStore()
    registry = WebhookRegistry(store)
    await registry.add("http://receiver/hook", None)
    await _emit(store, 1)
    posts: list[tuple[float, str, Mapping[str, str]]] = []
    feed = EventFeed(store)
    delivery = WebhookDelivery(store, feed, NODE, attempts=3, first_backoff=1, max_backoff=1,
                               poster=lambda: FakePoster(posts, [500, 500, 500]))
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        await nursery.start(delivery.run)
        await until(lambda: len(posts) == 3, 0.1)
        await trio.sleep(1)
        [state] = await registry.list()
        assert state.delivered == _event(1).id  # passed, but not taken:
        assert state.last_error is not None and "skipped after 3 attempts: HTTP 500" in state.last_error
        await _emit(store, 2)
        await until(lambda: len(posts) == 4, 0.1)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert [event_id for _, event_id, _ in posts] == [_event(1).id] * 3 + [_event(2).id]
    assert all(SIGNATURE_HEADER not in headers for _, _, headers in posts)
    [state] = await registry.list()
    assert state.delivered == _event(2).id and state.last_error is None


async def test_one_node_delivers_and_another_takes_over_when_it_stops(
        autojump_clock: trio.testing.MockClock) -> None:
    store = FakeStore()
    await WebhookRegistry(store).add("http://receiver/hook", None)
    posts: dict[str, list[tuple[float, str, Mapping[str, str]]]] = {"a": [], "b": []}
    feed = EventFeed(store)
    one = WebhookDelivery(store, feed, NODE, poster=lambda: FakePoster(posts["a"], []))
    two = WebhookDelivery(store, feed, EventNode(id="other", name="node2"), poster=lambda: FakePoster(posts["b"], []))
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        first = trio.CancelScope()

        async def run_one() -> None:
            with first:
                await one.run()

        nursery.start_soon(run_one)
        await trio.sleep(1)
        await nursery.start(two.run)
        await _emit(store, 1)
        await trio.sleep(5)
        assert one.leading and not two.leading
        first.cancel()  # node 1 stops: it revokes its lease, node 2 takes over
        await trio.sleep(10)
        assert two.leading
        await _emit(store, 2)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert [e for _, e, _ in posts["a"]] == [_event(1).id]
    assert [e for _, e, _ in posts["b"]] == [_event(2).id]
