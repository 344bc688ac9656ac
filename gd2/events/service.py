"""What the REST API asks of the event stream: recent events, a live feed, webhooks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gd2.api.events import EventList, Webhook, WebhookList
from gd2.errors import InvalidRequest
from gd2.events.delivery import WebhookDelivery
from gd2.events.feed import EventFeed, Subscription, recent
from gd2.events.ids import is_event_id
from gd2.events.publisher import EventSink
from gd2.events.webhooks import WebhookRegistry
from gd2.store import Store

MAX_LIMIT = 10_000


def check_since(since: str | None) -> str | None:
    if since is not None and since != "" and not is_event_id(since):
        raise InvalidRequest(f"since={since!r} is not an event id", {"since": since})
    return since or None


class EventService:
    def __init__(self, store: Store, sink: EventSink, feed: EventFeed, delivery: WebhookDelivery | None) -> None:
        self.store = store
        self.sink = sink
        self.feed = feed
        self.delivery = delivery
        self.webhooks = WebhookRegistry(store)

    async def recent(self, since: str | None, limit: int) -> EventList:
        if not 0 < limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be 1-{MAX_LIMIT}, not {limit}", {"limit": str(limit)})
        events = await recent(self.store, since=check_since(since), limit=limit)
        return EventList(events=events, next=events[-1].id if events else since)

    @contextlib.contextmanager
    def subscribe(self, limit: int) -> Iterator[Subscription]:
        with self.feed.subscribe(limit) as subscription:
            yield subscription

    async def add_webhook(self, url: str, secret: str | None) -> Webhook:
        webhook = await self.webhooks.add(url, secret)
        if self.delivery is not None:
            self.delivery.webhooks_changed()
        return webhook

    async def list_webhooks(self) -> WebhookList:
        return WebhookList(webhooks=await self.webhooks.list())

    async def delete_webhook(self, ref: str) -> None:
        await self.webhooks.delete(ref)
        if self.delivery is not None:
            self.delivery.webhooks_changed()
