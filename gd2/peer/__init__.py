"""Peer RPC: how glusterd2 nodes of a pool talk to each other (gRPC over mutual TLS).

Trust model, in short (docs/peers.md has the whole story): every pool has a
certificate authority, and every node a certificate from it naming its peer
id.  Members call each other on the *peer port* with mutual TLS, so each side
knows the other is a member.  A node that is not in the pool yet is reached
on its *join port*, which asks for no client certificate: there a caller is a
*stranger* and may only say Hello and offer a Join, which the node accepts
only while it is empty.  The member that adds a node trusts that node's
certificate on first use, because an admin asked it to add that address.

Public pieces: :class:`PeerServer` (serves the application's
:class:`PeerHandlers`), :class:`PeerClient` (calls one peer), the message
dataclasses, the errors, and :mod:`gd2.peer.pki` for the CA and certificates.
"""

from gd2.peer.client import UNBOUNDED_CALL_TIMEOUT, PeerClient, fetch_server_certificate
from gd2.peer.errors import PeerProtocolError, PeerRefused, PeerUnreachable, RemoteError, UnknownStep
from gd2.peer.messages import (
    PROTOCOL_VERSION,
    Caller,
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    PeerHandlers,
    StepReply,
    StepRequest,
)
from gd2.peer.pki import CertificateError, CertifiedKey, TLSMaterial
from gd2.peer.server import BoundPorts, PeerServer

__all__ = [
    "PROTOCOL_VERSION",
    "UNBOUNDED_CALL_TIMEOUT",
    "BoundPorts",
    "Caller",
    "CertificateError",
    "CertifiedKey",
    "HelloReply",
    "HelloRequest",
    "JoinReply",
    "JoinRequest",
    "LeaveRequest",
    "PeerClient",
    "PeerHandlers",
    "PeerProtocolError",
    "PeerRefused",
    "PeerServer",
    "PeerUnreachable",
    "RemoteError",
    "StepReply",
    "StepRequest",
    "TLSMaterial",
    "UnknownStep",
    "fetch_server_certificate",
]
