"""Where the events streamed to plugins come from.

Two sources, one shape (gd2.plugins.model.Event, handed to PluginHost.publish):

- :class:`FeedEvents` adapts the cluster event stream (gd2.events' feed: a
  ``subscribe()`` context manager of an async iterator of event models) — the
  composition root passes it when the stream is there;
- :class:`StoreChanges` derives events from the store by polling (volumes,
  their state and options, peers) — the fallback, and a wake-up for the
  plugins' daemons either way.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import structlog
import trio

from gd2.commands import keys
from gd2.errors import GD2Error
from gd2.plugins.model import Event
from gd2.store import Store
from gd2.store.follow import follow

log = structlog.get_logger("gd2.plugins")

Publish = Callable[[Event], None]


class EventFeedLike(Protocol):
    def subscribe(self, limit: int = 256) -> contextlib.AbstractContextManager[AsyncIterator[Any]]: ...


def from_model(model: Any) -> Event:
    """A cluster event (a pydantic model with id, kind, time, node...) as a plugin event."""
    data = model.model_dump(mode="json") if hasattr(model, "model_dump") else dict(model)
    node = data.pop("node", None) or {}
    attrs = {k: v if isinstance(v, str) else str(v) for k, v in data.items()
             if k not in ("id", "kind", "time") and v is not None}
    kind = str(data.get("kind", ""))
    return Event(str(data.get("id", "")), kind.replace(".", "-"), time.time(),
                 str(node.get("id", "") if isinstance(node, dict) else ""), attrs)


class FeedEvents:
    def __init__(self, feed: EventFeedLike) -> None:
        self._feed = feed

    async def run(self, publish: Publish) -> None:
        with self._feed.subscribe(1000) as events:
            async for event in events:
                publish(from_model(event))


class StoreChanges:
    """Volume and peer changes, seen through etcd watches (and a look every ``interval`` in any case)."""

    def __init__(self, store: Store, node_id: str, interval: float = 30.0) -> None:
        self._store = store
        self._node = node_id
        self._interval = interval
        self._seq = itertools.count(1)
        self._wake = trio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def _poked(self) -> None:
        self.poke()

    async def _snapshot(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        volumes = {e.key.rsplit("/", 1)[-1]: e.value for e in await self._store.list_prefix(keys.VOLUMES)}
        peers = {e.key.rsplit("/", 1)[-1] for e in await self._store.list_prefix(keys.PEERS)}
        return volumes, peers

    def _event(self, type_: str, **attrs: str) -> Event:
        return Event(f"{self._node}-store-{next(self._seq)}", type_, time.time(), self._node, attrs)

    async def run(self, publish: Publish) -> None:
        async with trio.open_nursery() as nursery:
            for prefix in (keys.VOLUMES, keys.PEERS):
                nursery.start_soon(follow, self._store, prefix, self._poked)
            before: tuple[dict[str, dict[str, Any]], set[str]] | None = None
            while True:
                self._wake = trio.Event()  # before the look: a change during it means another look
                try:
                    now = await self._snapshot()
                except GD2Error as exc:
                    log.debug("cannot read the store for plugin events", error=exc.message)
                else:
                    if before is not None:
                        for event in self.diff(before, now):
                            publish(event)
                    before = now
                with trio.move_on_after(self._interval):
                    await self._wake.wait()

    def diff(self, before: tuple[dict[str, dict[str, Any]], set[str]],
             now: tuple[dict[str, dict[str, Any]], set[str]]) -> list[Event]:
        (old_vols, old_peers), (new_vols, new_peers) = before, now
        events = []
        for name in sorted(new_vols.keys() - old_vols.keys()):
            events.append(self._event("volume-create", volume=name))
        for name in sorted(old_vols.keys() - new_vols.keys()):
            events.append(self._event("volume-delete", volume=name))
        for name in sorted(new_vols.keys() & old_vols.keys()):
            old, new = old_vols[name], new_vols[name]
            if old.get("state") != new.get("state"):
                kind = {"Started": "volume-start", "Stopped": "volume-stop"}.get(str(new.get("state")), "volume-state")
                events.append(self._event(kind, volume=name, state=str(new.get("state"))))
            if old.get("options") != new.get("options"):
                events.append(self._event("volume-set", volume=name))
        for peer in sorted(new_peers - old_peers):
            events.append(self._event("peer-add", peer=peer))
        for peer in sorted(old_peers - new_peers):
            events.append(self._event("peer-remove", peer=peer))
        return events
