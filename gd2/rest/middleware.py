"""ASGI middleware: request ids on every log line, bearer tokens on TCP."""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gd2.api.models import ErrorBody, ErrorResponse
from gd2.api.routes import REQUEST_ID_HEADER

log = structlog.get_logger(__name__)

_REQID = REQUEST_ID_HEADER.lower().encode()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class RequestContext:
    """Bind ``reqid`` (the caller's X-Request-ID or a new one) for the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, _REQID)
        reqid = given if given and len(given) <= 64 and given.isprintable() else uuid.uuid4().hex[:16]

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (_REQID, reqid.encode())]
                log.info("request", method=scope["method"], path=scope["path"], status=message["status"])
            await send(message)

        with structlog.contextvars.bound_contextvars(reqid=reqid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # A bug: log it once with its traceback, answer in the one error shape.
                log.exception("unexpected error", path=scope["path"])
                if not started:
                    body = ErrorResponse(error=ErrorBody(
                        code="internal", message=f"internal error: {type(exc).__name__}: {exc}"))
                    await send_json(send_with_id, 500, body.model_dump(), [])


class BearerAuth:
    """Refuse any request without ``Authorization: Bearer <token>`` (TCP listener)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = (_header(scope, b"authorization") or "").encode("latin-1")
            if not hmac.compare_digest(given, self._expected):
                reason = "missing bearer token" if not given else "invalid bearer token"
                await send_json(send, 401, ErrorResponse(error=ErrorBody(
                    code="unauthorized", message=f"unauthorized: {reason}")).model_dump(),
                    [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


async def send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]})
    await send({"type": "http.response.body", "body": data})
