"""glusterd2's gRPC client of one plugin, bridged to trio (sync grpc in worker threads).

Each call runs in a thread; the caller's trio deadline becomes the grpc
deadline (``timeout``, the request timeout, when there is none).  A cancelled
trio caller abandons the thread (the grpc deadline ends it).  Failures become GD2Errors that
name the plugin.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import grpc
import trio

from gd2.errors import GD2Error, Unavailable
from gd2.plugins import wire
from gd2.plugins.model import Description, Event, HostInfo, HttpAnswer, HttpCall, PluginDaemon

_END = object()


class PluginCallFailed(GD2Error):
    code = "internal"


class PluginClient:
    def __init__(self, plugin: str, socket_path: str, timeout: float) -> None:
        self.plugin = plugin
        self._timeout = timeout
        self._channel: Any = grpc.insecure_channel(f"unix:{socket_path}")

    def _error(self, method: str, exc: grpc.RpcError) -> GD2Error:
        code = exc.code() if hasattr(exc, "code") else None
        detail = exc.details() if hasattr(exc, "details") else str(exc)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
            return Unavailable(f"plugin {self.plugin} did not answer {method}: {detail}", {"plugin": self.plugin})
        return PluginCallFailed(f"plugin {self.plugin} failed {method}: {detail}", {"plugin": self.plugin})

    async def _unary(self, method: str, data: bytes) -> bytes:
        call = self._channel.unary_unary(wire.method_path(method))
        deadline = trio.current_effective_deadline()  # the caller's (trio.fail_after) becomes grpc's
        seconds = self._timeout if deadline == float("inf") else max(0.01, deadline - trio.current_time())

        def run() -> bytes:
            try:
                reply: bytes = call(data, timeout=seconds, wait_for_ready=True)
            except grpc.RpcError as exc:
                raise self._error(method, exc) from None
            return reply

        return await trio.to_thread.run_sync(run, abandon_on_cancel=True)

    async def describe(self, host: HostInfo) -> Description:
        return wire.decode_description(await self._unary(wire.DESCRIBE, wire.encode_describe_request(host)))

    async def health(self) -> tuple[bool, str]:
        return wire.decode_health(await self._unary(wire.HEALTH, wire.encode_health_request()))

    async def daemons(self, volume_json: str) -> list[PluginDaemon]:
        return wire.decode_daemons(await self._unary(wire.DAEMONS, wire.encode_daemons_request(volume_json)))

    async def handle(self, call: HttpCall) -> HttpAnswer:
        return wire.decode_http_answer(await self._unary(wire.HANDLE_REQUEST, wire.encode_http_call(call)))

    async def stream_events(self, events: trio.MemoryReceiveChannel[Event]) -> None:
        """Stream ``events`` to the plugin until the channel closes, the plugin goes, or we are cancelled."""
        pending: queue.Queue[object] = queue.Queue()
        call = self._channel.stream_unary(wire.method_path(wire.EVENTS))

        def requests() -> Iterator[bytes]:
            while (item := pending.get()) is not _END:
                assert isinstance(item, Event)
                yield wire.encode_event(item)

        def run() -> None:
            try:
                call(requests(), wait_for_ready=True)
            except grpc.RpcError as exc:
                raise self._error("Events", exc) from None

        async def feed() -> None:
            try:
                async for event in events:
                    pending.put(event)
            finally:
                pending.put(_END)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            try:
                await trio.to_thread.run_sync(run, abandon_on_cancel=True)
            finally:
                pending.put(_END)
                nursery.cancel_scope.cancel()

    def close(self) -> None:
        self._channel.close()
