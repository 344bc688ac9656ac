"""The cluster event stream: typed events in etcd, a live feed, webhooks.

Services emit through an :class:`EventSink` (never blocking, never failing
the operation); :class:`EventPublisher` writes each event to
``events/<id>`` on a lease whose TTL is the retention window;
:class:`EventFeed` watches that prefix once per daemon and fans events out
to local readers (the REST stream, webhook delivery); :class:`WebhookDelivery`
POSTs every event, signed, to every webhook from one node of the pool at a
time.  See docs/operations.md, "Events and webhooks".
"""

from gd2.events.feed import EventFeed, Subscription, recent
from gd2.events.publisher import NO_EVENTS, EventPublisher, EventSink
from gd2.events.service import EventService

__all__ = ["NO_EVENTS", "EventFeed", "EventPublisher", "EventService", "EventSink", "Subscription", "recent"]
