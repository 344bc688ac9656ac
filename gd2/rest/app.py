"""Build the ASGI applications served on the Unix socket and on TCP."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

import gd2
from gd2.commands.services import Services
from gd2.rest.errors import install_error_handlers
from gd2.rest.middleware import BearerAuth, RequestContext
from gd2.rest.routes import debug, events, peers, system, volume_options, volume_runtime, volumes


def create_api(services: Services, request_timeout: float) -> FastAPI:
    """The API itself; routes are listed here explicitly, nothing self-registers."""
    app = FastAPI(
        title="glusterd2",
        version=gd2.__version__,
        description="GlusterFS management API (GlusterD-2.0).",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(system.router(services))
    app.include_router(peers.router(services, request_timeout))
    app.include_router(volumes.router(services, request_timeout))
    app.include_router(volume_runtime.router(services.runtime, request_timeout))
    app.include_router(volume_options.router(services.options, request_timeout))
    app.include_router(debug.router(services, request_timeout))
    app.include_router(events.router(services.events, request_timeout))
    return app


def local_app(api: FastAPI) -> ASGIApp:
    """For the root-only Unix socket: no token (its mode is the access control)."""
    return RequestContext(api)


def remote_app(api: FastAPI, token: str) -> ASGIApp:
    """For TCP: every request needs the bearer token."""
    return RequestContext(BearerAuth(api, token))
