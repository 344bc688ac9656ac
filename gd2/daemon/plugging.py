"""The plugins' part of the object graph (docs/plugins.md), built beside gd2.daemon.wiring.

The host is given what it contributes to: the option validator (plugin
keys), the volfile service (plugin xlator rules), the SunRPC server
(FETCHSPEC when rules change), the node's supervisor (plugin daemons for
volumes), the REST API (`/v1/plugins`), and an event source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio
from fastapi import FastAPI

import gd2
from gd2.config import Config
from gd2.model.node import LocalNode
from gd2.plugins.daemons import PluginDaemons
from gd2.plugins.events import FeedEvents, StoreChanges
from gd2.plugins.host import PluginHost
from gd2.plugins.model import Event, HostInfo
from gd2.rest.routes import plugins as plugin_routes


@dataclass
class PluginParts:
    host: PluginHost
    daemons: PluginDaemons
    changes: StoreChanges
    feed: FeedEvents | None = None
    _tasks: list[Any] = field(default_factory=list)

    def _publish(self, event: Event) -> None:
        self.host.publish(event)
        if event.type.startswith(("volume", "plugin")):
            self.daemons.poke()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the plugins (dependency order; bounded), then their daemons and events; until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.host.run)
            if self.feed is not None:  # the cluster event stream, for plugins
                nursery.start_soon(self.feed.run, self.host.publish)
                nursery.start_soon(self.changes.run, lambda _event: self.daemons.poke())
            else:  # no event stream: events derived from the store
                nursery.start_soon(self.changes.run, self._publish)
            await nursery.start(self.daemons.run)
            task_status.started()


def wire_plugins(config: Config, node: LocalNode, wired: Any) -> PluginParts:
    """Build the plugin host and connect it (``wired``: gd2.daemon.wiring.Wired); nothing runs yet."""
    host = PluginHost(
        plugin_dir=config.plugin_dir, settings=config.plugins,
        host=HostInfo(version=gd2.__version__, peer_id=node.peer_id, address=config.address,
                      sunrpc_port=config.sunrpc_port, rundir=str(config.rundir), logdir=str(config.logdir),
                      statedir=str(config.localstatedir), api_socket=str(config.socket_path)),
        socket_dir=config.rundir / "plugins", statedir=config.localstatedir / "plugins",
        logdir=config.logdir / "plugins", start_timeout=config.plugin_start_timeout,
        stop_grace=config.shutdown_timeout, call_timeout=config.request_timeout)
    wired.validator.extend(host)
    wired.services.volfiles.extend(host.volgen_rules)

    async def rules_changed() -> None:
        await wired.sunrpc.notify_fetchspec()

    host.on_change(rules_changed)
    daemons = PluginDaemons(wired.store, host, wired.supervisor, node.peer_id)
    changes = StoreChanges(wired.store, node.peer_id)
    stream = getattr(wired, "events", None)  # gd2.daemon.eventing.EventParts
    if stream is None:
        return PluginParts(host, daemons, changes)
    publisher = stream.publisher

    def to_stream(event: Event) -> None:  # plugin-started -> plugin.started, into the cluster's events
        publisher.emit(event.type.replace("-", ".", 1), plugin=event.attrs.get("plugin"),
                       message=f"plugin {event.attrs.get('plugin')}: {event.type.split('-', 1)[1]}"
                               + (f": {event.attrs['error']}" if event.attrs.get("error") else ""))

    host.on_event(to_stream)
    return PluginParts(host, daemons, changes, FeedEvents(stream.feed))


def mount(api: FastAPI, parts: PluginParts, request_timeout: float) -> None:
    """`/v1/plugins` and the forwarded plugin routes."""
    api.include_router(plugin_routes.router(parts.host, request_timeout))
