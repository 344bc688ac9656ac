"""Serve the API with hypercorn's trio worker."""

from __future__ import annotations

import logging
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.types import ASGIApp


async def serve_api(app: ASGIApp, bind: str, shutdown: trio.Event, *, umask: int | None = None,
                    certfile: Path | None = None, keyfile: Path | None = None,
                    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` on ``bind`` (``unix:PATH`` or ``HOST:PORT``) until ``shutdown`` is set.

    ``umask`` applies while a Unix socket is created: 0o177 gives mode 0600
    with no window in which the socket is open to others.  With ``certfile``
    and ``keyfile`` the listener speaks TLS (https) only.
    """
    config = HypercornConfig()
    config.bind = [bind]
    config.umask = umask
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 2.0
    if certfile is not None and keyfile is not None:
        config.certfile = str(certfile)
        config.keyfile = str(keyfile)
    await serve(app, config, shutdown_trigger=shutdown.wait,  # type: ignore[arg-type]
                task_status=task_status)
