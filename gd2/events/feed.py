"""Reading events: the recent ones from the store, and a live feed.

:class:`EventFeed` holds one store watch on ``events/`` per daemon and hands
every new event (from any node) to local subscribers: streaming REST clients
and webhook delivery.  When the watch breaks it opens a new one and lists the
prefix to catch up, skipping what it has already passed on (by revision), so
subscribers see each stored event once, in the order etcd committed them.

Each :class:`Subscription` has a bounded buffer: a reader that falls behind
loses the newest events, not memory, and is told how many with one
``events.dropped`` marker when it catches up (its id is that of the last event
it did get, so ``GET /v1/events?since=<id>`` fetches the ones it missed).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime

import structlog
import trio
from pydantic import ValidationError

from gd2.api.events import Event, EventKind, EventNode
from gd2.errors import GD2Error
from gd2.events import keys
from gd2.events.ids import format_time
from gd2.store import Entry, Store

log = structlog.get_logger(__name__)


def to_event(entry: Entry) -> Event | None:
    try:
        return Event.model_validate(entry.value)
    except ValidationError as exc:
        log.warning("malformed event in the store skipped", key=entry.key, error=str(exc).splitlines()[0])
        return None


async def stored_events(store: Store) -> list[tuple[int, Event]]:
    """Every event in the store with its revision, in revision (commit) order."""
    entries = sorted(await store.list_prefix(keys.EVENTS), key=lambda e: e.mod_revision)
    return [(e.mod_revision, event) for e in entries if (event := to_event(e)) is not None]


async def recent(store: Store, *, since: str | None = None, limit: int = 100) -> list[Event]:
    """Events after ``since`` (an event id), oldest first: the first ``limit`` of them, or,
    without ``since``, the latest ``limit``."""
    events = sorted((event for _, event in await stored_events(store)), key=lambda e: e.id)
    if since is not None:
        return [e for e in events if e.id > since][:limit]
    return events[-limit:] if limit else []


class Subscription:
    """One reader's bounded view of the feed (``async for event in subscription``)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: deque[Event] = deque()
        self._dropped = 0
        self._last_id = ""  # of the last event handed to the reader
        self._closed = False
        self._lot = trio.lowlevel.ParkingLot()

    def offer(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._items) >= self._limit or self._dropped:
            self._dropped += 1  # keep order: nothing is queued again until the reader has caught up
        else:
            self._items.append(event)
        self._lot.unpark_all()

    def close(self) -> None:
        self._closed = True
        self._lot.unpark_all()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        await trio.lowlevel.checkpoint()
        while True:
            if self._items:
                event = self._items.popleft()
                self._last_id = event.id
                return event
            if self._dropped:
                count, self._dropped = self._dropped, 0
                return self._marker(count)
            if self._closed:
                raise StopAsyncIteration
            await self._lot.park()

    def _marker(self, count: int) -> Event:
        since = self._last_id
        hint = f"; GET /v1/events?since={since} lists them" if since else ""
        return Event(id=since, time=format_time(datetime.now(UTC)), kind=EventKind.DROPPED, node=_NOBODY,
                     message=f"{count} events dropped: this reader fell behind{hint}")


_NOBODY = EventNode(id="", name="")


class EventFeed:
    """The live events of the pool, from one watch, for local subscribers."""

    def __init__(self, store: Store, *, reconnect: float = 1.0) -> None:
        self._store = store
        self._reconnect = reconnect
        self._subscriptions: set[Subscription] = set()
        self._revision = 0  # of the last event passed on
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def revision(self) -> int:
        """The store revision of the newest event seen (0: none yet)."""
        return self._revision

    @contextlib.contextmanager
    def subscribe(self, limit: int = 256) -> Iterator[Subscription]:
        """Events from now on; at most ``limit`` buffered (see :class:`Subscription`)."""
        subscription = Subscription(limit)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            subscription.close()

    async def wait_beyond(self, revision: int) -> None:
        """Return once an event newer than ``revision`` has been seen."""
        while self._revision <= revision:
            await self._lot.park()

    def _pass_on(self, revision: int, event: Event) -> None:
        self._revision = revision
        for subscription in list(self._subscriptions):
            subscription.offer(event)
        self._lot.unpark_all()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled; survives store outages (then catches up by listing)."""
        task_status.started()
        caught_up = False
        try:
            while True:
                try:
                    async with self._store.watch_prefix(keys.EVENTS) as changes:
                        for revision, event in await stored_events(self._store):
                            if caught_up and revision > self._revision:
                                self._pass_on(revision, event)
                            else:
                                self._revision = max(self._revision, revision)
                        if caught_up:
                            log.info("event feed watching again")
                        caught_up = True
                        async for change in changes:
                            if change.entry is None or change.revision <= self._revision:
                                continue  # an expiry, or already passed on from the list
                            decoded = to_event(change.entry)
                            if decoded is not None:
                                self._pass_on(change.revision, decoded)
                except GD2Error as exc:
                    log.warning("event feed interrupted; reconnecting", error=exc.message)
                await trio.sleep(self._reconnect)
        finally:
            for subscription in list(self._subscriptions):
                subscription.close()
