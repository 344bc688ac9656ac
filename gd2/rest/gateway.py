"""The local API socket, kept open while glusterd2 restarts its services in-process.

A join, a leave or an etcd promotion changes what a node is, and glusterd2 then
rebuilds everything behind its API (docs/peers.md).  The Unix socket is not part of
that: it stays open, and a request that arrives while the services are being rebuilt
waits for them (bounded) instead of meeting "connection refused".  When the wait
runs out, or glusterd2 is stopping, the answer is a 503 in the API's one error shape.
Before the old services go, the requests they are answering are let finish (bounded,
:meth:`Gateway.drained`); long-lived ones (the event stream) are not waited for.
"""

from __future__ import annotations

import trio
from starlette.types import ASGIApp, Receive, Scope, Send

from gd2.api.models import ErrorBody, ErrorResponse
from gd2.rest.middleware import send_json


class Gateway:
    """An ASGI app that forwards to the API of the services currently running."""

    def __init__(self, wait: float, long_lived: tuple[str, ...] = ()) -> None:
        self._wait = wait
        self._long_lived = long_lived  # path prefixes of requests that last as long as the services
        self._app: ASGIApp | None = None
        self._ready = trio.Event()
        self._stopping = False
        self._in_flight = 0
        self._idle = trio.Event()
        self._idle.set()

    def serve(self, app: ASGIApp) -> None:
        """Requests go to ``app`` from now on (the waiting ones too)."""
        self._app = app
        self._ready.set()

    def pause(self) -> None:
        """The services are going away: new requests wait for the next :meth:`serve`."""
        if self._ready.is_set() and not self._stopping:
            self._app = None
            self._ready = trio.Event()

    @property
    def in_flight(self) -> int:
        """Requests being answered now (long-lived ones not counted)."""
        return self._in_flight

    async def drained(self) -> None:
        """Return once no request is being answered (the caller bounds the wait)."""
        await self._idle.wait()

    def stop(self) -> None:
        """glusterd2 is stopping: waiting and new requests are answered 503 at once."""
        self._stopping = True
        self._app = None
        self._ready.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        with trio.move_on_after(self._wait):
            await self._ready.wait()
        app = self._app
        if app is not None:
            counted = not str(scope.get("path", "")).startswith(self._long_lived)
            if counted:
                if self._in_flight == 0:
                    self._idle = trio.Event()
                self._in_flight += 1
            try:
                await app(scope, receive, send)
            finally:
                if counted:
                    self._in_flight -= 1
                    if self._in_flight == 0:
                        self._idle.set()
        elif scope["type"] == "http":
            why = "glusterd2 is stopping" if self._stopping else (
                f"glusterd2 is restarting and did not come back within {self._wait:g}s")
            await send_json(send, 503, ErrorResponse(error=ErrorBody(code="unavailable", message=why)).model_dump(),
                            [(b"retry-after", b"1")])


async def _lifespan(receive: Receive, send: Send) -> None:
    """The listener's life is not the services' life: nothing to set up or tear down here."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
