"""The peer protocol as plain Python: the requests and replies of the four calls, and
:class:`PeerHandlers`, what the application implements to answer them.

Nothing outside :mod:`gd2.peer` sees a protobuf object; :mod:`gd2.peer._wire`
translates.  Opaque ``bytes`` fields (step args and results, ``extra``) are
msgpack chosen by the application; this layer only carries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Bumped when the meaning of a call changes (adding fields does not need it).
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Caller:
    """Who is calling, as far as TLS can tell.

    ``is_member`` is true when the caller presented a client certificate signed
    by this node's current cluster CA; ``peer_id`` is then that certificate's
    common name.  Strangers (no certificate: the join listener) have
    ``peer_id = None``.  ``address`` is grpc's view of the remote end
    (``ipv4:10.0.0.2:51234``), for logs only.
    """

    is_member: bool
    peer_id: str | None
    address: str


@dataclass(frozen=True)
class HelloRequest:
    """Ask a node who it is; with ``want_csr`` it also makes a new node key and returns a CSR for it."""

    want_csr: bool = False
    protocol_version: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class HelloReply:
    """A node's description of itself.  ``empty``: no volumes and no other peers, so it may join a pool."""

    peer_id: str
    name: str
    addresses: tuple[str, ...]
    cluster_id: str
    empty: bool
    csr: bytes | None = None
    protocol_version: int = PROTOCOL_VERSION
    extra: bytes = b""  # application-defined msgpack (where its etcd and peer ports are, say)


@dataclass(frozen=True)
class JoinRequest:
    """Sent by a pool member to an empty node: the pool's CA, the node's new certificate and where etcd is."""

    cluster_id: str
    ca_cert: bytes
    node_cert: bytes
    etcd_endpoints: tuple[str, ...]
    extra: bytes = b""


@dataclass(frozen=True)
class JoinReply:
    """What the joined node tells the pool back (application-defined msgpack)."""

    extra: bytes = b""


@dataclass(frozen=True)
class LeaveRequest:
    """The pool tells a node it has been removed from ``cluster_id``."""

    cluster_id: str


@dataclass(frozen=True)
class StepRequest:
    """Run (or, with ``undo``, undo) the named step of transaction ``txn_id`` on the callee."""

    txn_id: str
    reqid: str
    step: str
    undo: bool = False
    args: bytes = b""


@dataclass(frozen=True)
class StepReply:
    """The step's result (application-defined msgpack)."""

    result: bytes = b""


class PeerHandlers(Protocol):
    """What the application answers the four calls with.

    Each method runs in the trio thread, inside a cancel scope that ends when
    the caller's deadline passes or the server stops.  Raise a
    :class:`~gd2.errors.GD2Error` to refuse or fail: its code, message and
    fields reach the caller, who raises the same error.  Any other exception
    reaches the caller as an ``internal`` error.  The library has already
    refused Leave and RunStep from strangers; Hello and Join get the
    :class:`Caller` to decide themselves (Join must refuse unless the node is
    empty).
    """

    async def hello(self, request: HelloRequest, caller: Caller) -> HelloReply: ...

    async def join(self, request: JoinRequest, caller: Caller) -> JoinReply: ...

    async def leave(self, request: LeaveRequest, caller: Caller) -> None: ...

    async def run_step(self, request: StepRequest, caller: Caller) -> StepReply: ...
