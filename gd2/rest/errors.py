"""One error shape for every failure: ``{"error": {"code", "message", "fields"}}``."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gd2.api.models import ErrorBody, ErrorResponse
from gd2.api.routes import STATUS_OF_CODE
from gd2.errors import GD2Error

log = structlog.get_logger(__name__)

_CODE_OF_STATUS = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields or {}))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _gd2_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GD2Error)
    status = STATUS_OF_CODE.get(exc.code, 500)
    if status >= 500:
        log.error("request failed", code=exc.code, error=exc.message, notes=getattr(exc, "__notes__", None))
    message = "; ".join([exc.message, *getattr(exc, "__notes__", [])])
    return error_response(status, exc.code, message, exc.fields)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, str] = {}
    for err in exc.errors():
        fields.setdefault(_location(tuple(err.get("loc", ()))), str(err.get("msg", "invalid")))
    message = "; ".join(f"{k}: {v}" for k, v in fields.items()) or "invalid request"
    return error_response(422, "invalid", f"invalid request: {message}", fields)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODE_OF_STATUS.get(exc.status_code, "invalid" if exc.status_code < 500 else "internal")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such API path: {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message,
                          headers=dict(exc.headers) if exc.headers else None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this; RequestContext logs the traceback once.
    return error_response(500, "internal", f"internal error: {type(exc).__name__}: {exc}")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GD2Error, _gd2_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
