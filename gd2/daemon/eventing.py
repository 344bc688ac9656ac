"""The event stream's parts, as the composition root builds and runs them.

Every node runs the publisher (its own events into etcd), the feed (one
watch for everyone's events, for its REST streams and webhook delivery) and
a webhook delivery task that delivers only while this node holds the
delivery lease (gd2.events.delivery).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
import trio

from gd2.api.events import EventKind, EventNode
from gd2.config import Config
from gd2.daemons.supervisor import DaemonNotice
from gd2.events import EventFeed, EventPublisher, EventService, EventSink
from gd2.events.delivery import WebhookDelivery
from gd2.model.node import LocalNode
from gd2.store import Store

log = structlog.get_logger(__name__)

_BRICK_KINDS = {"started": EventKind.BRICK_START, "stopped": EventKind.BRICK_STOP, "died": EventKind.BRICK_DIED,
                "restarted": EventKind.BRICK_RESTARTED, "failed": EventKind.BRICK_FAILED}
_PLUGIN_KINDS = {"started": EventKind.PLUGIN_STARTED, "restarted": EventKind.PLUGIN_STARTED,
                 "failed": EventKind.PLUGIN_FAILED}


@dataclass(frozen=True)
class EventParts:
    publisher: EventPublisher
    feed: EventFeed
    delivery: WebhookDelivery
    service: EventService

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run publisher, feed and delivery until cancelled (none of them waits for the store)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_resilient, "event publisher", self.publisher.run)
            nursery.start_soon(_resilient, "event feed", self.feed.run)
            nursery.start_soon(_resilient, "webhook delivery", self.delivery.run)
            task_status.started()


async def _resilient(what: str, run: Callable[[], Awaitable[None]], pause: float = 5.0) -> None:
    """Run ``run`` again after a bug: events are never worth taking the daemon down."""
    while True:
        try:
            await run()
        except Exception:
            log.exception("event task failed; restarting it", task=what)
        await trio.sleep(pause)


def build_events(config: Config, store: Store, node: LocalNode) -> EventParts:
    me = EventNode(id=node.peer_id, name=node.name)
    publisher = EventPublisher(store, me, retention=max(1, math.ceil(config.events_retention)))
    feed = EventFeed(store)
    delivery = WebhookDelivery(store, feed, me, attempts=config.webhook_attempts,
                               max_backoff=config.webhook_max_backoff, timeout=config.webhook_timeout,
                               first_backoff=min(0.5, config.webhook_max_backoff))
    return EventParts(publisher, feed, delivery, EventService(store, publisher, feed, delivery))


def daemon_notice(sink: EventSink) -> DaemonNotice:
    """Turn the supervisor's notices about bricks (and plugins) into events on this node."""

    def notice(what: str, name: str, detail: str) -> None:
        kind_of, _, subject = name.partition(" ")
        if kind_of == "brick" and what in _BRICK_KINDS:
            volume, _, brick = subject.partition(" ")
            sink.emit(_BRICK_KINDS[what], volume=volume, brick=brick,
                      message=f"brick {brick} of {volume} {what}" + (f": {detail}" if detail else ""))
        elif kind_of == "plugin" and what in _PLUGIN_KINDS:
            sink.emit(_PLUGIN_KINDS[what], plugin=subject,
                      message=f"plugin {subject} {what}" + (f": {detail}" if detail else ""))

    return notice
