"""The peer RPC server: grpc's thread-pool server answering with the application's trio handlers.

Two listeners on one grpc server, because grpc (checked with grpcio 1.85)
cannot ask for a client certificate without requiring it: with a client CA
and ``require_client_auth=False`` it does not request one at all, so no call
would carry an identity; with ``True`` a caller without a certificate of our
CA fails the TLS handshake and never reaches us.  So:

* the **peer port** requires a client certificate signed by this node's
  current cluster CA (mutual TLS).  Its callers are members.  Each call also
  re-checks the certificate against the current CA, because a connection
  made before :meth:`PeerServer.reload` outlives the reload.
* the **join port** presents the same server certificate but asks for no
  client certificate.  Its callers are strangers: they may call Hello and
  Join (the application decides what to answer), and are refused Leave and
  RunStep with PERMISSION_DENIED.

Both ports use grpc's dynamic certificate configuration, so
:meth:`PeerServer.reload` (after a Join changed the CA and the node
certificate) takes effect on the next TLS handshake without rebinding.

Handlers run in the trio thread (``trio.from_thread.run``) inside a cancel
scope that ends when the caller's deadline passes, the caller goes away, or
the server stops; grpc's ``stop()`` runs in a worker thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import grpc
import structlog
import trio

from gd2.errors import ConfigError, GD2Error, InternalError
from gd2.peer import _wire, pki
from gd2.peer.messages import Caller, PeerHandlers
from gd2.peer.pki import TLSMaterial

log = structlog.get_logger(__name__)

Req = TypeVar("Req")
Rep = TypeVar("Rep")

MEMBERS_ONLY = frozenset({_wire.LEAVE, _wire.RUN_STEP})
_GRPC_OPTIONS = [
    # grpc sets SO_REUSEPORT by default: a second server on the same port would bind silently.
    ("grpc.so_reuseport", 0),
]


@dataclass(frozen=True)
class BoundPorts:
    """The ports the server listens on (useful when asked for port 0)."""

    peer: int
    join: int


class _Refused(Exception):
    """A call the library refuses before the application sees it."""

    def __init__(self, status: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _TLSState:
    """The current TLS material, swapped whole by reload; read by grpc threads without locks."""

    def __init__(self, tls: TLSMaterial) -> None:
        self.tls = tls
        self.generation = 0
        # (generation, client certificate PEM) -> peer id, or None when not from the current CA.
        self.verified: dict[tuple[int, bytes], str | None] = {}

    def replace(self, tls: TLSMaterial) -> None:
        self.tls = tls
        self.generation += 1
        self.verified = {}

    def config(self, *, with_client_ca: bool) -> Any:
        tls = self.tls
        return grpc.ssl_server_certificate_configuration(
            [(tls.node_key, tls.node_cert)], root_certificates=tls.ca_cert if with_client_ca else None)

    def fetcher(self, *, with_client_ca: bool) -> Callable[[], Any]:
        served = [self.generation]

        def fetch() -> Any:
            # grpc calls this before every TLS handshake on the port; None keeps the current configuration.
            if served[0] == self.generation:
                return None
            served[0] = self.generation
            return self.config(with_client_ca=with_client_ca)

        return fetch

    def member_id(self, cert_pem: bytes) -> str | None:
        key = (self.generation, cert_pem)
        if key not in self.verified:
            try:
                self.verified[key] = pki.verify_node_cert(cert_pem, self.tls.ca_cert)
            except pki.CertificateError:
                self.verified[key] = None
            if len(self.verified) > 1024:
                self.verified = {key: self.verified[key]}
        return self.verified[key]


class PeerServer:
    """Serves the peer protocol on ``address``: members on ``peer_port``, strangers on ``join_port``.

    Use ``await nursery.start(server.serve)`` (it returns the :class:`BoundPorts`),
    or :meth:`start` and :meth:`stop`.  Port 0 picks a free port.
    """

    def __init__(self, handlers: PeerHandlers, tls: TLSMaterial, *, address: str, peer_port: int, join_port: int,
                 max_workers: int = 16, stop_grace: float = 1.0) -> None:
        pki.check_material(tls)
        self._handlers = handlers
        self._state = _TLSState(tls)
        self._address = address
        self._wanted = BoundPorts(peer_port, join_port)
        self._max_workers = max_workers
        self._stop_grace = stop_grace
        self._server: Any = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._ports: BoundPorts | None = None
        self._stopping = False
        self._inflight: set[trio.CancelScope] = set()

    @property
    def ports(self) -> BoundPorts:
        """The bound ports; only after :meth:`start`."""
        if self._ports is None:
            raise InternalError("the peer server has not been started")
        return self._ports

    async def serve(self, *, task_status: trio.TaskStatus[BoundPorts] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled, then stop (shielded and bounded by the stop grace)."""
        ports = await self.start()
        try:
            task_status.started(ports)
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await self.stop()

    async def start(self) -> BoundPorts:
        """Bind both ports and start answering."""
        if self._server is not None:
            raise InternalError("the peer server is already running")
        self._token = trio.lowlevel.current_trio_token()
        self._stopping = False
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="gd2-peer"),
                             handlers=[self._generic_handler()], options=_GRPC_OPTIONS)
        try:
            peer = self._bind(server, self._wanted.peer, members=True)
            join = self._bind(server, self._wanted.join, members=False)
        except BaseException:
            server.stop(None)
            raise
        server.start()
        self._server = server
        self._ports = BoundPorts(peer, join)
        log.info("peer server listening", address=self._address, peer_port=peer, join_port=join)
        return self._ports

    async def stop(self) -> None:
        """Refuse new calls, cancel the handlers still running, and stop grpc (in a thread, bounded)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        for scope in list(self._inflight):
            scope.cancel()
        grace = self._stop_grace

        def stop_grpc() -> None:
            server.stop(grace).wait(grace + 5.0)

        await trio.to_thread.run_sync(stop_grpc)

    async def reload(self, tls: TLSMaterial) -> None:
        """Use new TLS material (after a Join): new handshakes use it, and callers of the old CA are refused."""
        pki.check_material(tls)
        self._state.replace(tls)

    def _bind(self, server: Any, port: int, *, members: bool) -> int:
        state = self._state
        credentials = grpc.dynamic_ssl_server_credentials(
            state.config(with_client_ca=members), state.fetcher(with_client_ca=members),
            require_client_authentication=members)
        target = f"[{self._address}]:{port}" if ":" in self._address else f"{self._address}:{port}"
        try:
            bound: int = server.add_secure_port(target, credentials)
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen for peers on {target}: {exc}") from None
        if bound == 0:
            raise ConfigError(f"cannot listen for peers on {target}")
        return bound

    def _generic_handler(self) -> Any:
        h = self._handlers
        methods = {
            _wire.HELLO: self._unary(_wire.HELLO, _wire.decode_hello_request, h.hello, _wire.encode_hello_reply),
            _wire.JOIN: self._unary(_wire.JOIN, _wire.decode_join_request, h.join, _wire.encode_join_reply),
            _wire.LEAVE: self._unary(_wire.LEAVE, _wire.decode_leave_request, h.leave,
                                     lambda _: _wire.encode_leave_reply()),
            _wire.RUN_STEP: self._unary(_wire.RUN_STEP, _wire.decode_step_request, h.run_step,
                                        _wire.encode_step_reply),
        }
        # No serializers: handlers get and return bytes, and _wire owns the protobuf parsing.
        return grpc.method_handlers_generic_handler(
            _wire.SERVICE, {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in methods.items()})

    def _caller(self, method: str, context: Any) -> Caller:
        certs = context.auth_context().get("x509_pem_cert")
        if not certs:
            caller = Caller(is_member=False, peer_id=None, address=context.peer())
        else:
            peer_id = self._state.member_id(certs[0])
            if peer_id is None:
                raise _Refused(grpc.StatusCode.PERMISSION_DENIED,
                               "the client certificate is not from this node's current cluster CA")
            caller = Caller(is_member=True, peer_id=peer_id, address=context.peer())
        if method in MEMBERS_ONLY and not caller.is_member:
            raise _Refused(grpc.StatusCode.PERMISSION_DENIED,
                           f"{method} is only for members of this node's pool (no member certificate was presented)")
        return caller

    def _unary(self, method: str, decode: Callable[[bytes], Req],
               call: Callable[[Req, Caller], Awaitable[Rep]], encode: Callable[[Rep], bytes]) -> Callable[..., bytes]:
        def handle(data: bytes, context: Any) -> bytes:
            try:
                reply = self._handle(method, data, context, decode, call)
            except _Refused as refused:
                _abort(context, refused)
            if isinstance(reply, GD2Error):
                return _wire.error_reply(method, reply)
            return encode(reply)

        return handle

    def _handle(self, method: str, data: bytes, context: Any, decode: Callable[[bytes], Req],
                call: Callable[[Req, Caller], Awaitable[Rep]]) -> Rep | GD2Error:
        """Runs in a grpc worker thread; returns the reply or the application's error, raises _Refused."""
        caller = self._caller(method, context)
        try:
            request = decode(data)
        except _wire.MalformedMessage as exc:
            raise _Refused(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        token = self._token
        if token is None or self._stopping:
            raise _Refused(grpc.StatusCode.UNAVAILABLE, "the peer server is stopping")
        scope = trio.CancelScope()
        remaining = context.time_remaining()

        def cancel_soon() -> None:
            # grpc calls this when the RPC ends for any reason (done, cancelled by the caller, deadline).
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(scope.cancel)

        context.add_callback(cancel_soon)

        async def run() -> Rep | GD2Error:
            if remaining is not None:
                scope.deadline = trio.current_time() + remaining
            self._inflight.add(scope)
            try:
                with scope:
                    return await call(request, caller)
            except GD2Error as exc:
                return exc
            except Exception as exc:
                log.exception("peer call failed", method=method, caller=caller.peer_id or caller.address)
                return InternalError(f"{method} failed on the peer: {type(exc).__name__}: {exc}")
            finally:
                self._inflight.discard(scope)
            if self._stopping:
                raise _Refused(grpc.StatusCode.UNAVAILABLE, "the peer server is stopping")
            raise _Refused(grpc.StatusCode.DEADLINE_EXCEEDED, f"{method} was cancelled (deadline or caller gone)")

        try:
            return trio.from_thread.run(run, trio_token=token)
        except (trio.RunFinishedError, trio.Cancelled):
            raise _Refused(grpc.StatusCode.UNAVAILABLE, "the peer server is stopping") from None


def _abort(context: Any, refused: _Refused) -> NoReturn:
    context.abort(refused.status, refused.message)
    raise AssertionError("grpc's abort returned")  # pragma: no cover

