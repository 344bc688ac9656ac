"""`/v1/events`: recent events, the live stream, webhooks.

The stream (`GET /v1/events/stream`) is newline-delimited JSON
(``application/x-ndjson``): one event per line, in the order etcd committed
them, and an empty line every 15 s while nothing happens (so a client and
any proxy see the connection is alive, and a vanished client is noticed).
``?since=<id>`` first replays the stored events after that id.  Each client
has a bounded buffer (gd2.events.feed.Subscription): one that reads too
slowly gets an ``events.dropped`` line instead of what it missed.  The
stream ends when glusterd2 stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
import trio
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from gd2.api import routes
from gd2.api.events import Event, EventList, Webhook, WebhookAddRequest, WebhookList
from gd2.api.models import ErrorResponse
from gd2.errors import GD2Error
from gd2.events import EventService
from gd2.events.service import MAX_LIMIT, check_since
from gd2.rest.deadline import within

log = structlog.get_logger(__name__)

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (401, 404, 409, 422, 500, 503)
}
HEARTBEAT = 15.0
STREAM_BUFFER = 256  # events per client


def _line(event: Event) -> bytes:
    return event.model_dump_json(exclude_none=True).encode() + b"\n"


async def _stream(events: EventService, since: str | None, replay_deadline: float) -> AsyncIterator[bytes]:
    with events.subscribe(STREAM_BUFFER) as live:  # before the replay, so nothing falls in between
        replayed: set[str] = set()
        if since is not None:
            try:
                backlog = await within(replay_deadline, lambda: events.recent(since, MAX_LIMIT))
            except GD2Error as exc:
                log.warning("event stream: cannot replay stored events", since=since, error=exc.message)
            else:
                for event in backlog.events:
                    replayed.add(event.id)
                    yield _line(event)
        while True:
            with trio.move_on_after(HEARTBEAT):
                try:
                    event = await live.__anext__()
                except StopAsyncIteration:
                    return
                if event.id not in replayed:
                    yield _line(event)
                continue
            yield b"\n"


def router(events: EventService, timeout: float) -> APIRouter:
    api = APIRouter(tags=["events"], responses=_ERRORS)

    @api.get(routes.EVENTS, response_model=EventList, response_model_exclude_none=True,
             summary="Recent events of the pool, oldest first")
    async def list_events(since: Annotated[str | None, Query(description="an event id: only later events")] = None,
                          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> EventList:
        return await within(timeout, lambda: events.recent(since, limit))

    @api.get(routes.EVENTS_STREAM, response_class=StreamingResponse,
             summary="Live events as newline-delimited JSON (empty lines are heartbeats)",
             responses={200: {"content": {"application/x-ndjson": {}}}})
    async def stream_events(since: str | None = None) -> StreamingResponse:
        checked = check_since(since)
        return StreamingResponse(_stream(events, checked, timeout), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @api.post(routes.WEBHOOKS, response_model=Webhook, status_code=201, summary="Add a webhook")
    async def add_webhook(req: WebhookAddRequest) -> Webhook:
        return await within(timeout, lambda: events.add_webhook(req.url, req.secret))

    @api.get(routes.WEBHOOKS, response_model=WebhookList, summary="Webhooks, with how far delivery got")
    async def list_webhooks() -> WebhookList:
        return await within(timeout, events.list_webhooks)

    @api.delete(routes.webhook("{ref:path}"), status_code=204, response_class=Response,
                summary="Delete a webhook (by id or URL)")
    async def delete_webhook(ref: str) -> Response:
        await within(timeout, lambda: events.delete_webhook(ref))
        return Response(status_code=204)

    return api
