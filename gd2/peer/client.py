"""The peer RPC client: one grpc channel to one peer, with async calls for trio.

Two kinds of client:

* a **member** client (:class:`PeerClient` with the node's
  :class:`~gd2.peer.pki.TLSMaterial`) talks to the peer port of a node of the
  same pool: it verifies the server against the cluster CA (and, given the
  peer id, that it is that peer) and presents the node certificate.
* a **stranger** client (:meth:`PeerClient.trust_on_first_use`) talks to the
  join port of a node that is not in the pool yet.  That node's certificate
  comes from its own birth CA, which we cannot verify, so we fetch the
  certificate it presents (a TLS handshake without verification) and pin
  exactly that certificate for the Hello and the Join.  The admin authorised
  this by running the peer-add command; docs/peers.md has the trust model.

Deadlines: a call takes the caller's trio deadline (``trio.fail_after`` around
it) as its grpc deadline; without one it uses :data:`UNBOUNDED_CALL_TIMEOUT`.
grpc's exceptions never leave this module: they become :class:`PeerUnreachable`,
:class:`PeerRefused` or :class:`PeerProtocolError`, and an application error of
the remote handler is raised here with the same code and message.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

import grpc
import trio

from gd2.errors import GD2Error
from gd2.peer import _wire, pki
from gd2.peer.errors import PeerProtocolError, PeerRefused, PeerUnreachable
from gd2.peer.messages import (
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    StepReply,
    StepRequest,
)
from gd2.peer.pki import TLSMaterial

T = TypeVar("T")

# The grpc deadline of a call made without a trio deadline around it.
UNBOUNDED_CALL_TIMEOUT = 60.0
# How long the diagnosis of a closed connection (was our certificate refused?) may take at most.
_PROBE_TIMEOUT = 2.0

_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    # grpc backs off up to 120 s after a failed connection, failing calls at once meanwhile;
    # a restarted peer should be reachable again within a couple of seconds.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


def _target(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _remaining() -> float:
    deadline = trio.current_effective_deadline()
    if math.isinf(deadline):
        return UNBOUNDED_CALL_TIMEOUT
    return max(deadline - trio.current_time(), 0.001)


def _server_name(cert_pem: bytes) -> str | None:
    dns, ips = pki.cert_names(cert_pem)
    names = dns or ips
    return names[0] if names else None


class PeerClient:
    """Calls the peer protocol on one node.  Close it with :meth:`aclose` (or ``async with``)."""

    def __init__(self, address: str, port: int, tls: TLSMaterial, *, peer_id: str | None = None) -> None:
        """A member client for ``address:port`` (the peer port).

        With ``peer_id`` the server's certificate must name that peer;
        otherwise it must name ``address`` (an IP address of its SANs).
        """
        credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca_cert, private_key=tls.node_key,
                                                   certificate_chain=tls.node_cert)
        self._init(address, port, credentials, server_name=peer_id, member_tls=tls)

    @classmethod
    def stranger(cls, address: str, port: int, pinned_cert: bytes) -> PeerClient:
        """A client of the join port that trusts exactly ``pinned_cert`` and presents no certificate."""
        client = cls.__new__(cls)
        pki.load_cert(pinned_cert)
        client._init(address, port, grpc.ssl_channel_credentials(root_certificates=pinned_cert),
                     server_name=_server_name(pinned_cert), member_tls=None)
        client.pinned_cert = pinned_cert
        return client

    @classmethod
    async def trust_on_first_use(cls, address: str, port: int) -> PeerClient:
        """Fetch the certificate the join port presents, and return a stranger client pinned to it."""
        return cls.stranger(address, port, await fetch_server_certificate(address, port))

    def _init(self, address: str, port: int, credentials: Any, *, server_name: str | None,
              member_tls: TLSMaterial | None) -> None:
        self.address = address
        self.port = port
        self.peer = _target(address, port)
        self.pinned_cert: bytes | None = None
        self._member_tls = member_tls
        options = list(_CHANNEL_OPTIONS)
        if server_name is not None:
            options.append(("grpc.ssl_target_name_override", server_name))
        self._server_name = server_name
        self._channel: Any = grpc.secure_channel(self.peer, credentials, options=options)
        # No serializers: grpc carries bytes and _wire does the protobuf work.
        self._methods: dict[str, Any] = {
            name: self._channel.unary_unary(_wire.method_path(name))
            for name in (_wire.HELLO, _wire.JOIN, _wire.LEAVE, _wire.RUN_STEP)
        }

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the channel; calls still running fail."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await trio.to_thread.run_sync(channel.close)

    async def hello(self, request: HelloRequest | None = None) -> HelloReply:
        """Ask the node who it is (and for a CSR, with ``want_csr``)."""
        data = _wire.encode_hello_request(request or HelloRequest())
        return await self._call(_wire.HELLO, data, _wire.decode_hello_reply)

    async def join(self, request: JoinRequest) -> JoinReply:
        """Ask an empty node to join our pool."""
        return await self._call(_wire.JOIN, _wire.encode_join_request(request), _wire.decode_join_reply)

    async def leave(self, request: LeaveRequest) -> None:
        """Tell a node it has been removed from the pool."""
        await self._call(_wire.LEAVE, _wire.encode_leave_request(request), _wire.decode_leave_reply)

    async def run_step(self, request: StepRequest) -> StepReply:
        """Run (or undo) a named transaction step on the node; its GD2Error is raised here."""
        return await self._call(_wire.RUN_STEP, _wire.encode_step_request(request), _wire.decode_step_reply)

    async def _call(self, method: str, data: bytes, decode: Callable[[bytes], T]) -> T:
        if self._channel is None:
            raise PeerProtocolError(self.peer, "the client is closed")
        timeout = _remaining()
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future = self._methods[method].future(data, timeout=timeout)
        future.add_done_callback(wake)
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        try:
            reply: bytes = future.result()
        except grpc.RpcError as exc:
            raise await self._translate(method, exc, seconds=timeout) from None
        try:
            return decode(reply)
        except _wire.MalformedMessage as exc:
            raise PeerProtocolError(self.peer, f"{method}: {exc}") from None

    async def _translate(self, method: str, exc: Any, *, seconds: float) -> GD2Error:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return PeerUnreachable(self.peer, f"{method} did not complete within {seconds:.1f} s")
        if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
            return PeerRefused(self.peer, details)
        if code == grpc.StatusCode.UNAVAILABLE:
            if "handshake failed" in details.lower() or "CERTIFICATE_VERIFY_FAILED" in details:
                return PeerRefused(self.peer, "its certificate is not one we trust "
                                   f"({'the pinned certificate' if self.pinned_cert else 'our cluster CA'})")
            if "Socket closed" in details and (self._member_tls is not None or self.pinned_cert is not None):
                # The server closes the connection when it rejects our client certificate,
                # which looks like any other lost connection: ask TLS directly.
                refusal = await self._probe_refusal()
                if refusal is not None:
                    which = "our certificate" if self._member_tls is not None else "callers without a " \
                        "certificate of its pool"
                    return PeerRefused(self.peer, f"it does not accept {which} ({refusal})")
            return PeerUnreachable(self.peer, details, never_sent="failed to connect" in details.lower())
        if code == grpc.StatusCode.CANCELLED:
            return PeerUnreachable(self.peer, f"{method} was cancelled: {details}")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return PeerProtocolError(self.peer, f"it does not implement {method} (another protocol version?)")
        return PeerProtocolError(self.peer, f"{method} failed with {code.name}: {details}")

    async def _probe_refusal(self) -> str | None:
        """Redo the TLS handshake with Python's ssl; the TLS alert that refused us, or None."""
        tls = self._member_tls
        trusted = tls.ca_cert if tls is not None else self.pinned_cert
        assert trusted is not None
        limit = min(_PROBE_TIMEOUT, _remaining())
        address, port, name = self.address, self.port, self._server_name

        def probe() -> str | None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.load_verify_locations(cadata=trusted.decode())
            context.set_alpn_protocols(["h2"])
            if tls is not None:
                with tempfile.TemporaryDirectory(prefix="gd2-peer-probe-") as tmp:
                    # Python's ssl loads a key only from a file; the directory is 0700.
                    cert_file, key_file = Path(tmp) / "node.pem", Path(tmp) / "node.key"
                    pki.save_pem(cert_file, tls.node_cert, private=False)
                    pki.save_pem(key_file, tls.node_key, private=True)
                    context.load_cert_chain(cert_file, key_file)
            try:
                with socket.create_connection((address, port), timeout=limit) as raw, \
                        context.wrap_socket(raw, server_hostname=name) as conn:
                    # With TLS 1.3 the server judges our certificate after the handshake has
                    # completed on our side.  A grpc server that accepts it speaks first (its
                    # HTTP/2 SETTINGS); one that refuses it closes the connection, with or
                    # without an alert (grpcio 1.85 sends none).
                    first = conn.recv(1)
            except ssl.SSLError as exc:
                return exc.reason or str(exc)
            except OSError:
                return None
            return None if first else "it closed the connection right after the TLS handshake"

        return await trio.to_thread.run_sync(probe)


async def fetch_server_certificate(address: str, port: int) -> bytes:
    """The certificate (PEM) a node presents on ``address:port``, fetched without verifying it.

    The first step of trust on first use; bounded by the caller's trio deadline
    (or :data:`UNBOUNDED_CALL_TIMEOUT`).
    """
    limit = _remaining()
    peer = _target(address, port)

    def fetch() -> bytes:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        with socket.create_connection((address, port), timeout=limit) as raw, context.wrap_socket(raw) as conn:
            der = conn.getpeercert(binary_form=True)
        if der is None:
            raise ssl.SSLError("the server presented no certificate")
        return ssl.DER_cert_to_PEM_cert(der).encode()

    try:
        pem = await trio.to_thread.run_sync(fetch)
    except ssl.SSLError as exc:
        raise PeerRefused(peer, f"TLS handshake failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise PeerUnreachable(peer, exc.strerror or str(exc)) from None
    pki.load_cert(pem)
    return pem
