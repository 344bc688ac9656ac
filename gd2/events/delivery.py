"""Delivering events to webhooks: one node of the pool at a time, in the background.

**Who delivers.**  Every node competes for one *delivery leader* key,
``leaders/webhook-delivery``, created only if absent on a lease of
``lease_ttl`` seconds that the leader refreshes; the others check again every
third of the TTL.  The leader runs one deliverer task per webhook.  A leader
that stops revokes its lease (another node takes over within a few seconds);
one that dies or is cut off loses it when the TTL runs out, and stops
delivering as soon as it cannot refresh it in time.  One leader rather than a
lock per webhook: the work is small (one POST per event and webhook), and one
place that delivers is easier to watch and to reason about.

**What is delivered.**  Each webhook has a cursor in the store
(``webhook-cursors/<id>``: the store revision of the last event delivered).
A deliverer lists the stored events after its cursor, in revision (commit)
order, POSTs them one by one and moves the cursor after each success; then it
waits for the event feed to see a newer event.  So a receiver that was down,
or a leader that changed, resumes exactly where delivery stopped:
at-least-once (an event may come twice when a leader dies between a POST and
its cursor write); receivers deduplicate by event id.

**Retries.**  A receiver that answers non-2xx is retried with exponential
backoff (``first_backoff`` doubling up to ``max_backoff``), ``attempts`` times
in all, then that event is skipped (logged, and shown by webhook-list).  A
receiver that cannot be reached at all is retried the same way, without
skipping: delivery waits for it while the event is still in the store (the
retention window).  None of this runs inside an operation: emitting only
queues the event (gd2.events.publisher).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

import structlog
import trio

import gd2
from gd2.api.events import Event, EventNode
from gd2.errors import GD2Error
from gd2.events import keys
from gd2.events.feed import EventFeed, stored_events
from gd2.events.signing import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    KIND_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_HEADER,
    backoff,
    sign,
)
from gd2.events.webhooks import Cursor, WebhookRecord, WebhookRegistry
from gd2.store import Store

log = structlog.get_logger(__name__)


class DeliveryFailed(Exception):
    """The receiver could not be reached (no HTTP answer)."""


class Poster(Protocol):
    """Sends one POST and returns the HTTP status; raises DeliveryFailed without an answer."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...

    async def aclose(self) -> None: ...


class HttpPoster:
    """httpx under trio (anyio); one client, so one kept-alive connection, per webhook."""

    def __init__(self, timeout: float) -> None:
        import httpx  # only the delivery leader needs it

        self._httpx = httpx
        # trust_env=False: a daemon's environment decides nothing here (no proxy variables, no .netrc).
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            async with self._client.stream("POST", url, content=body, headers=dict(headers)) as response:
                return int(response.status_code)  # the body is not read: the connection is closed instead
        except self._httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    async def aclose(self) -> None:
        await self._client.aclose()


PosterFactory = Callable[[], Poster]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def request_headers(record: WebhookRecord, event: Event, body: bytes, attempt: int) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": f"glusterd2/{gd2.__version__}",
               EVENT_HEADER: event.id, KIND_HEADER: event.kind, WEBHOOK_HEADER: record.id,
               ATTEMPT_HEADER: str(attempt)}
    if record.secret is not None:
        headers[SIGNATURE_HEADER] = sign(record.secret, body)
    return headers


class WebhookDelivery:
    def __init__(self, store: Store, feed: EventFeed, node: EventNode, *, attempts: int = 8,
                 first_backoff: float = 0.5, max_backoff: float = 60.0, timeout: float = 10.0,
                 lease_ttl: int = 10, poll: float = 5.0, poster: PosterFactory | None = None) -> None:
        self._store = store
        self._registry = WebhookRegistry(store)
        self._feed = feed
        self._node = node
        self._attempts = attempts
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        self._lease_ttl = lease_ttl
        self._poll = poll
        self._poster: PosterFactory = poster or (lambda: HttpPoster(timeout))
        self._changed = trio.lowlevel.ParkingLot()
        self.leading = False

    def webhooks_changed(self) -> None:
        """A webhook was added or deleted here: the leader (if this node) looks again now."""
        self._changed.unpark_all()

    # ---- leadership -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Compete for delivery until cancelled; deliver while leading."""
        task_status.started()
        while True:
            try:
                lease = await self._store.grant_lease(self._lease_ttl)
            except GD2Error:
                await trio.sleep(1)
                continue
            try:
                won = await self._store.create(keys.DELIVERY_LEADER, keys.KIND_LEADER, {
                    "peer_id": self._node.id, "node": self._node.name, "since": _now()}, lease=lease)
            except GD2Error:
                won = False
            if won:
                try:
                    await self._lead(lease)
                finally:
                    self.leading = False
                    with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(GD2Error):
                        await self._store.revoke_lease(lease)
            else:
                with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(GD2Error):
                    await self._store.revoke_lease(lease)
                await trio.sleep(self._lease_ttl / 3)

    async def _lead(self, lease: int) -> None:
        log.info("this node delivers events to webhooks")
        self.leading = True
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_lease, lease, nursery.cancel_scope)
            nursery.start_soon(self._manage, nursery)
        log.warning("this node no longer delivers to webhooks (its lease was lost)")

    async def _keep_lease(self, lease: int, scope: trio.CancelScope) -> None:
        last_ok = trio.current_time()
        while True:
            await trio.sleep(self._lease_ttl / 3)
            try:
                if await self._store.refresh_lease(lease) <= 0:
                    break
                last_ok = trio.current_time()
            except GD2Error as exc:
                log.warning("cannot refresh the webhook delivery lease", error=exc.message)
                if trio.current_time() - last_ok >= self._lease_ttl:
                    break
        scope.cancel()

    async def _manage(self, nursery: trio.Nursery) -> None:
        """Run one deliverer per webhook; stop those of deleted webhooks."""
        running: dict[str, tuple[int, trio.CancelScope]] = {}
        while True:
            try:
                records = {r.id: r for r in await self._registry.records()}
            except GD2Error as exc:
                log.warning("cannot list webhooks", error=exc.message)
                records = None
            if records is not None:
                for wid, (revision, scope) in list(running.items()):
                    if wid not in records or records[wid].revision != revision:
                        scope.cancel()
                        del running[wid]
                for wid, record in records.items():
                    if wid not in running:
                        scope = await nursery.start(self._deliverer, record)
                        running[wid] = (record.revision, scope)
            with trio.move_on_after(self._poll):
                await self._changed.park()

    # ---- one webhook ----------------------------------------------------------------------------

    async def _deliverer(self, record: WebhookRecord, *,
                         task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.CancelScope() as scope:
            task_status.started(scope)
            poster = self._poster()
            try:
                await self._deliver_all(record, poster)
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(2):
                    await poster.aclose()

    async def _deliver_all(self, record: WebhookRecord, poster: Poster) -> None:
        cursor: Cursor | None = None
        while True:
            seen = self._feed.revision
            try:
                if cursor is None:
                    cursor = await self._registry.cursor(record)
                pending = [(rev, event) for rev, event in await stored_events(self._store)
                           if rev > cursor.revision]
            except GD2Error as exc:
                log.warning("webhook delivery cannot read the store", webhook=record.id, error=exc.message)
                await trio.sleep(1)
                continue
            if not pending:
                with trio.move_on_after(self._poll):
                    await self._feed.wait_beyond(max(seen, cursor.revision))
                continue
            for revision, event in pending:
                cursor = await self._deliver_one(record, poster, cursor, revision, event)

    async def _deliver_one(self, record: WebhookRecord, poster: Poster, cursor: Cursor, revision: int,
                           event: Event) -> Cursor:
        """POST ``event`` until it is taken (or given up on); returns the new cursor, saved."""
        body = event.model_dump_json(exclude_none=True).encode()
        attempt = 0
        skipped: str | None = None
        while True:
            attempt += 1
            refused = False
            try:
                status = await poster.post(record.url, body, request_headers(record, event, body, attempt))
                if 200 <= status < 300:
                    break
                error, refused = f"HTTP {status}", True
            except DeliveryFailed as exc:
                error = str(exc)
            if cursor.error != error:
                cursor = Cursor(cursor.webhook_revision, cursor.revision, cursor.event, error,
                                cursor.failing_since or _now())
                await self._save(record, cursor)
                log.warning("webhook delivery failing; retrying", webhook=record.id, url=record.url,
                            event_id=event.id, error=error, attempt=attempt)
            if attempt >= self._attempts:
                if refused:
                    log.error("webhook refused an event; skipping it", webhook=record.id, url=record.url,
                              event_id=event.id, error=error, attempts=attempt)
                    skipped = f"event {event.id} skipped after {attempt} attempts: {error}"
                    break
                if await self._gone(event):
                    log.error("event expired before the webhook could take it", webhook=record.id,
                              event_id=event.id, error=error)
                    skipped = f"event {event.id} expired before delivery: {error}"
                    break
            await trio.sleep(backoff(attempt, first=self._first_backoff, cap=self._max_backoff))
        if cursor.error is not None and skipped is None:
            log.info("webhook delivery resumed", webhook=record.id, url=record.url, event_id=event.id)
        cursor = Cursor(cursor.webhook_revision, revision, event.id, skipped)
        await self._save(record, cursor)
        return cursor

    async def _gone(self, event: Event) -> bool:
        try:
            return await self._store.get(keys.event(event.id)) is None
        except GD2Error:
            return False

    async def _save(self, record: WebhookRecord, cursor: Cursor) -> None:
        # A cursor that could not be saved means a repeat after a restart (at-least-once), not a loss.
        try:
            await self._registry.save_cursor(record.id, cursor)
        except GD2Error as exc:
            log.warning("cannot save the webhook cursor", webhook=record.id, error=exc.message)

