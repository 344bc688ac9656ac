"""A webhook receiver for tests and benchmarks: stdlib http.server in a thread.

It records every POST (with the time it arrived), checks its signature when
given the secret, answers ``status`` (200 unless a test says otherwise), and
can be stopped and started again on the same address and port, to play a
receiver that was briefly down.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gd2.events.signing import EVENT_HEADER, SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Delivery:
    event_id: str | None
    body: bytes
    signature: str | None
    signature_valid: bool | None  # None: the receiver has no secret
    at: float  # time.monotonic() when it arrived

    @property
    def event(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


class WebhookReceiver:
    def __init__(self, address: str, port: int = 0, *, secret: str | None = None, path: str = "/hook") -> None:
        self.address = address
        self.port = port
        self.secret = secret
        self.path = path
        self.status = 200
        self._deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}{self.path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signature = self.headers.get(SIGNATURE_HEADER)
                valid = None if receiver.secret is None else verify(receiver.secret, body, signature)
                status = receiver.status
                if 200 <= status < 300:
                    receiver._record(Delivery(self.headers.get(EVENT_HEADER), body, signature, valid,
                                              time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _record(self, delivery: Delivery) -> None:
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()

    def start(self) -> WebhookReceiver:
        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer((self.address, self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (connections are refused until :meth:`start` again)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    def events(self) -> list[dict[str, Any]]:
        """The events received, each once (receivers dedupe by event id), in arrival order."""
        with self._changed:
            return self._unique()

    def wait_for(self, predicate: Any, timeout: float) -> list[dict[str, Any]]:
        """Wait until ``predicate(events())`` holds; returns the events (raises TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                events = self._unique()
                if predicate(events):
                    return events
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"webhook receiver: condition not met in {timeout}s; got "
                                       f"{[e.get('kind') for e in events]}")
                self._changed.wait(remaining)

    def _unique(self) -> list[dict[str, Any]]:
        seen: set[str] = set()
        out = []
        for delivery in self._deliveries:
            event = delivery.event
            if event["id"] not in seen:
                seen.add(event["id"])
                out.append(event)
        return out
