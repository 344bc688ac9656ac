"""Wire models of the cluster event stream and its webhooks (`/v1/events...`).

An event is what changed, where, and when: ``kind`` (``volume.start``...),
the node it happened on, the subject (volume, brick, peer, plugin, options)
and a one-line message.  Events are read by nodes of other versions, so
unknown fields are ignored rather than refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from gd2.api.models import _Strict


class EventKind(StrEnum):
    """Every kind glusterd2 emits; plugins may add kinds of their own (``<plugin>.<what>``)."""

    VOLUME_CREATE = "volume.create"
    VOLUME_START = "volume.start"
    VOLUME_STOP = "volume.stop"
    VOLUME_DELETE = "volume.delete"
    VOLUME_SET = "volume.set"
    VOLUME_RESET = "volume.reset"
    PEER_ADD = "peer.add"
    PEER_REMOVE = "peer.remove"
    BRICK_START = "brick.start"
    BRICK_STOP = "brick.stop"
    BRICK_DIED = "brick.died"
    BRICK_RESTARTED = "brick.restarted"
    BRICK_FAILED = "brick.failed"
    PLUGIN_STARTED = "plugin.started"
    PLUGIN_FAILED = "plugin.failed"
    # Not a change in the pool: a reader of the live stream fell behind and missed events.
    DROPPED = "events.dropped"


class EventNode(BaseModel):
    """The peer an event happened on."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str


class Event(BaseModel):
    """One change in the pool, as stored (``events/<id>``), listed, streamed and POSTed to webhooks."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str  # sortable: time of the emitting node, then node and counter (gd2.events.ids)
    time: str  # ISO 8601, UTC, milliseconds
    kind: str
    node: EventNode
    volume: str | None = None
    brick: str | None = None  # HOST:PATH
    peer: str | None = None  # the peer added or removed (its id)
    plugin: str | None = None
    options: dict[str, str] | None = None  # volume.set: the keys and values set; volume.reset: keys
    message: str = ""


class EventList(_Strict):
    """`GET /v1/events`: oldest first; ``next`` is the ``since`` of the following page."""

    events: list[Event]
    next: str | None = None


class WebhookAddRequest(_Strict):
    url: Annotated[StrictStr, Field(min_length=1, max_length=2048)]
    secret: Annotated[StrictStr, Field(min_length=1, max_length=1024)] | None = None


class Webhook(_Strict):
    """A webhook as listed: the secret itself is never shown, only whether there is one."""

    id: str
    url: str
    has_secret: bool
    created_at: str
    delivered: str | None = None  # id of the last event delivered
    pending_since: str | None = None  # when the current delivery began failing
    last_error: str | None = None


class WebhookList(_Strict):
    webhooks: list[Webhook]
