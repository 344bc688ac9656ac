"""Emitting events: never blocking, never failing the operation that emits.

:meth:`EventPublisher.emit` is synchronous: it stamps the event and appends
it to a bounded in-memory queue; one background task (:meth:`EventPublisher.run`)
writes the queue to ``events/<id>`` in order.  While the store cannot be
reached the queue keeps the newest ``capacity`` events (the oldest are
dropped and counted, and the count is logged once the store answers again).

Retention without a sweeper: every event is written on a lease that is never
refreshed.  One lease serves the events of a *bucket* of time (a tenth of the
retention window) and is granted with TTL = retention + bucket, so an event
lives between ``retention`` and ``retention + bucket`` seconds, and a node
holds about eleven such leases at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol

import structlog
import trio

from gd2.api.events import Event, EventKind, EventNode
from gd2.errors import GD2Error
from gd2.events import keys
from gd2.events.ids import IdMaker, format_time
from gd2.store import Store

log = structlog.get_logger(__name__)


class EventSink(Protocol):
    """What services emit through (the composition root passes the publisher in)."""

    def emit(self, kind: EventKind | str, *, volume: str | None = None, brick: str | None = None,
             peer: str | None = None, plugin: str | None = None, options: Mapping[str, str] | None = None,
             message: str = "") -> None: ...


class _NoEvents:
    """A sink that drops everything (services built without an event stream, unit tests)."""

    def emit(self, kind: EventKind | str, *, volume: str | None = None, brick: str | None = None,
             peer: str | None = None, plugin: str | None = None, options: Mapping[str, str] | None = None,
             message: str = "") -> None:
        return None


NO_EVENTS: EventSink = _NoEvents()


class EventPublisher:
    """This node's events, queued in memory and written to the store in the background."""

    def __init__(self, store: Store, node: EventNode, *, retention: int, capacity: int = 1024,
                 clock: Callable[[], int] = time.time_ns) -> None:
        if retention < 1:
            raise ValueError("retention must be at least 1 s")
        self._store = store
        self._node = node
        self._retention = retention
        self._bucket = max(1, retention // 10)
        self._queue: deque[Event] = deque(maxlen=capacity)
        self._clock = clock
        self._ids = IdMaker(node.id)
        self._lot = trio.lowlevel.ParkingLot()
        self._dropped = 0
        self._lease: tuple[int, float] | None = None  # (lease id, when its bucket ends)
        self.written = 0  # events stored so far (for tests and the log)

    @property
    def pending(self) -> int:
        """Events waiting to be written."""
        return len(self._queue)

    @property
    def dropped(self) -> int:
        """Events dropped since the last time the store answered."""
        return self._dropped

    def emit(self, kind: EventKind | str, *, volume: str | None = None, brick: str | None = None,
             peer: str | None = None, plugin: str | None = None, options: Mapping[str, str] | None = None,
             message: str = "") -> None:
        """Queue an event; returns at once and never raises (a failure here is only logged)."""
        try:
            event_id, when = self._ids.next(self._clock())
            event = Event(id=event_id, time=format_time(when), kind=str(kind), node=self._node, volume=volume,
                          brick=brick, peer=peer, plugin=plugin,
                          options=dict(options) if options is not None else None, message=message)
            if len(self._queue) == self._queue.maxlen:
                self._dropped += 1  # the deque drops the oldest: the newest are kept
            self._queue.append(event)
            self._lot.unpark_all()
            log.debug("event", kind=event.kind, id=event.id)
        except Exception as exc:  # an event is never worth failing the operation it reports
            log.error("cannot emit an event", kind=str(kind), error=f"{type(exc).__name__}: {exc}")

    async def _current_lease(self) -> int:
        now = trio.current_time()
        if self._lease is None or now >= self._lease[1]:
            lease = await self._store.grant_lease(self._retention + self._bucket)
            self._lease = (lease, now + self._bucket)
        return self._lease[0]

    async def run(self, *, retry_max: float = 5.0,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write queued events until cancelled (what is still queued then is lost, and logged)."""
        task_status.started()
        delay = 0.1
        failing = False
        try:
            while True:
                while not self._queue:
                    await self._lot.park()
                event = self._queue[0]
                try:
                    lease = await self._current_lease()
                    await self._store.put(keys.event(event.id), keys.KIND_EVENT,
                                          event.model_dump(mode="json", exclude_none=True), lease=lease)
                except GD2Error as exc:
                    self._lease = None  # it may have expired during an outage: take a fresh one
                    if not failing:
                        log.warning("cannot store events; keeping the newest in memory", error=exc.message,
                                    pending=len(self._queue), capacity=self._queue.maxlen)
                        failing = True
                    await trio.sleep(delay)
                    delay = min(delay * 2, retry_max)
                    continue
                if self._queue and self._queue[0] is event:
                    self._queue.popleft()
                self.written += 1
                delay = 0.1
                if failing or self._dropped:
                    log.warning("storing events again", dropped=self._dropped, pending=len(self._queue))
                    failing, self._dropped = False, 0
        finally:
            if self._queue:
                log.warning("events not stored at shutdown", count=len(self._queue))
