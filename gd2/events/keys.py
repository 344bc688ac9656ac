"""Store keys of the event stream and its webhooks (relative to the cluster prefix)."""

from __future__ import annotations

EVENTS = "events/"
WEBHOOKS = "webhooks/"
WEBHOOK_CURSORS = "webhook-cursors/"
# Held (on a lease) by the one node that delivers to webhooks.
DELIVERY_LEADER = "leaders/webhook-delivery"

KIND_EVENT = "event"
KIND_WEBHOOK = "webhook"
KIND_WEBHOOK_CURSOR = "webhook-cursor"
KIND_LEADER = "leader"


def event(event_id: str) -> str:
    return EVENTS + event_id


def webhook(webhook_id: str) -> str:
    return WEBHOOKS + webhook_id


def webhook_cursor(webhook_id: str) -> str:
    """How far delivery to one webhook got: ``{"revision", "event", "error", "failing_since"}``."""
    return WEBHOOK_CURSORS + webhook_id
