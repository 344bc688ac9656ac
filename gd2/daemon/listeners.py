"""The API's listeners, kept open across glusterd2's in-process restarts (join, leave, promotion).

Both the Unix socket and the TCP listener answer through a gd2.rest.gateway.Gateway: while the
services behind them are rebuilt, requests wait instead of meeting "connection refused".  The
Unix socket is opened by the first start and closed only when glusterd2 stops.  The TCP listener
speaks TLS with the node's certificate: it is kept while address, port and certificate stay the
same (a promotion) and opened again when they change (a join or a leave brings a new certificate).

The modules behind this (hypercorn, FastAPI) are heavy: they are imported here only when a
listener is first opened, by which time the daemon has imported them in a thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
import trio

from gd2.config import Config
from gd2.errors import ConfigError

log = structlog.get_logger("gd2.daemon")

RESTART_DRAIN = 10.0  # seconds a restart waits for the requests being answered


@dataclass
class _Listener:
    gateway: Any  # gd2.rest.gateway.Gateway
    key: tuple[str, ...] = ()
    scope: trio.CancelScope | None = None
    closed: trio.Event | None = None


class ApiListeners:
    """The Unix socket and the TCP listener, and what they forward to."""

    def __init__(self, config: Config, nursery: trio.Nursery, shutdown: trio.Event) -> None:
        self._config = config
        self._nursery = nursery  # outlives the services: cancelled only when glusterd2 stops
        self._shutdown = shutdown
        self._unix: _Listener | None = None
        self._tcp: _Listener | None = None

    @property
    def listening(self) -> bool:
        """The Unix socket is open (it is ours, not another glusterd2's)."""
        return self._unix is not None

    def _gateway(self, app: Any) -> Any:
        from gd2.api import routes
        from gd2.rest.gateway import Gateway

        gateway = Gateway(self._config.request_timeout, long_lived=(routes.EVENTS_STREAM,))
        gateway.serve(app)
        return gateway

    async def serve_local(self, app: Any) -> None:
        """Answer the Unix socket with ``app`` from now on; open it on the first start."""
        if self._unix is not None:
            self._unix.gateway.serve(app)
            return
        from gd2.rest.server import serve_api

        gateway = self._gateway(app)
        path = self._config.socket_path
        try:
            await self._nursery.start(lambda task_status: serve_api(
                gateway, f"unix:{path}", self._shutdown, umask=0o177, task_status=task_status))
        except (OSError, BaseExceptionGroup) as exc:
            refused = _os_error(exc)
            if refused is None:
                raise
            raise ConfigError(f"cannot listen on {path}: {refused.strerror}") from None
        self._unix = _Listener(gateway)

    async def serve_tcp(self, app: Any, certfile: Path, keyfile: Path) -> None:
        """Answer TCP (https with this certificate) with ``app``; (re)open the listener if needed."""
        config = self._config
        key = (config.address, str(config.rest_port), *(_digest(p) for p in (certfile, keyfile)))
        if self._tcp is not None and self._tcp.key == key:
            self._tcp.gateway.serve(app)
            return
        if self._tcp is not None and self._tcp.scope is not None and self._tcp.closed is not None:
            self._tcp.gateway.stop()
            self._tcp.scope.cancel()
            await self._tcp.closed.wait()  # the port is free again
            self._tcp = None
        from gd2.rest.server import serve_api

        gateway = self._gateway(app)
        bind = f"{config.address}:{config.rest_port}"
        closed = trio.Event()
        scope = trio.CancelScope()  # entered by the listener's task: cancelling it closes the port

        async def run(*, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                with scope:
                    await serve_api(gateway, bind, self._shutdown, certfile=certfile, keyfile=keyfile,
                                    task_status=task_status)
            finally:
                closed.set()

        try:
            await self._nursery.start(run)
        except (OSError, BaseExceptionGroup) as exc:  # hypercorn binds inside a nursery of its own
            refused = _os_error(exc)
            if refused is None:
                raise
            raise ConfigError(f"cannot listen on {bind}: {refused.strerror}") from None
        self._tcp = _Listener(gateway, key, scope, closed)

    def _gateways(self) -> list[Any]:
        return [listener.gateway for listener in (self._unix, self._tcp) if listener is not None]

    def pause(self) -> None:
        """The services are going: new requests wait for the next serve_local/serve_tcp."""
        for gateway in self._gateways():
            gateway.pause()

    async def drain(self) -> None:
        """Let the requests being answered finish (up to RESTART_DRAIN seconds) before the services go."""
        with trio.move_on_after(RESTART_DRAIN):
            for gateway in self._gateways():
                await gateway.drained()
        left = sum(gateway.in_flight for gateway in self._gateways())
        if left:
            log.warning("restarting with requests still being answered", requests=left)

    def stop(self) -> None:
        """glusterd2 is stopping: waiting requests are answered 503 at once."""
        for gateway in self._gateways():
            gateway.stop()


def _os_error(error: BaseException) -> OSError | None:
    """The OSError in ``error``, itself or inside (nested) exception groups."""
    if isinstance(error, OSError):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _os_error(inner)) is not None:
                return found
    return None


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
