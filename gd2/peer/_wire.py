"""Bytes on the wire <-> the dataclasses of :mod:`gd2.peer.messages`.

The only module that touches the protobuf classes generated from
protos/peer.proto.  grpc carries raw bytes for us (no serializers are
registered with it), so a malformed message is our error to report, not an
exception from inside grpc.  An application error travels in the ``error``
field of each reply.
"""

from __future__ import annotations

from typing import Any

import gd2.peer._proto.peer_pb2 as pb
from gd2.api.protobuf import MalformedMessage as MalformedMessage  # re-exported: callers catch it here
from gd2.api.protobuf import parse, serialize
from gd2.errors import GD2Error
from gd2.peer.errors import remote_error
from gd2.peer.messages import (
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    StepReply,
    StepRequest,
)

SERVICE = "gd2.peer.v1.Peer"
HELLO = "Hello"
JOIN = "Join"
LEAVE = "Leave"
RUN_STEP = "RunStep"


def method_path(method: str) -> str:
    """The HTTP/2 path grpc uses for a method of the service."""
    return f"/{SERVICE}/{method}"


_parse = parse
_bytes = serialize


def _raise_error(reply: Any) -> None:
    if reply.HasField("error"):
        error = reply.error
        raise remote_error(error.code, error.message, dict(error.fields))


def error_reply(method: str, error: GD2Error) -> bytes:
    """The reply of ``method`` carrying ``error`` instead of a result."""
    reply = _REPLY_CLASS[method]()
    reply.error.code = error.code
    reply.error.message = error.message
    reply.error.fields.update(error.fields)
    return _bytes(reply)


# Hello

def encode_hello_request(request: HelloRequest) -> bytes:
    return _bytes(pb.HelloRequest(protocol_version=request.protocol_version, want_csr=request.want_csr))


def decode_hello_request(data: bytes) -> HelloRequest:
    message = _parse(pb.HelloRequest, data)
    return HelloRequest(want_csr=message.want_csr, protocol_version=message.protocol_version)


def encode_hello_reply(reply: HelloReply) -> bytes:
    return _bytes(pb.HelloReply(protocol_version=reply.protocol_version, peer_id=reply.peer_id, name=reply.name,
                                addresses=list(reply.addresses), cluster_id=reply.cluster_id, empty=reply.empty,
                                csr=reply.csr or b"", extra=reply.extra))


def decode_hello_reply(data: bytes) -> HelloReply:
    message = _parse(pb.HelloReply, data)
    _raise_error(message)
    return HelloReply(peer_id=message.peer_id, name=message.name, addresses=tuple(message.addresses),
                      cluster_id=message.cluster_id, empty=message.empty, csr=message.csr or None,
                      protocol_version=message.protocol_version, extra=message.extra)


# Join

def encode_join_request(request: JoinRequest) -> bytes:
    return _bytes(pb.JoinRequest(cluster_id=request.cluster_id, ca_cert=request.ca_cert, node_cert=request.node_cert,
                                 etcd_endpoints=list(request.etcd_endpoints), extra=request.extra))


def decode_join_request(data: bytes) -> JoinRequest:
    message = _parse(pb.JoinRequest, data)
    return JoinRequest(cluster_id=message.cluster_id, ca_cert=message.ca_cert, node_cert=message.node_cert,
                       etcd_endpoints=tuple(message.etcd_endpoints), extra=message.extra)


def encode_join_reply(reply: JoinReply) -> bytes:
    return _bytes(pb.JoinReply(extra=reply.extra))


def decode_join_reply(data: bytes) -> JoinReply:
    message = _parse(pb.JoinReply, data)
    _raise_error(message)
    return JoinReply(extra=message.extra)


# Leave

def encode_leave_request(request: LeaveRequest) -> bytes:
    return _bytes(pb.LeaveRequest(cluster_id=request.cluster_id))


def decode_leave_request(data: bytes) -> LeaveRequest:
    return LeaveRequest(cluster_id=_parse(pb.LeaveRequest, data).cluster_id)


def encode_leave_reply() -> bytes:
    return _bytes(pb.LeaveReply())


def decode_leave_reply(data: bytes) -> None:
    _raise_error(_parse(pb.LeaveReply, data))


# RunStep

def encode_step_request(request: StepRequest) -> bytes:
    return _bytes(pb.StepRequest(txn_id=request.txn_id, reqid=request.reqid, step=request.step, undo=request.undo,
                                 args=request.args))


def decode_step_request(data: bytes) -> StepRequest:
    message = _parse(pb.StepRequest, data)
    return StepRequest(txn_id=message.txn_id, reqid=message.reqid, step=message.step, undo=message.undo,
                       args=message.args)


def encode_step_reply(reply: StepReply) -> bytes:
    return _bytes(pb.StepReply(result=reply.result))


def decode_step_reply(data: bytes) -> StepReply:
    message = _parse(pb.StepReply, data)
    _raise_error(message)
    return StepReply(result=message.result)


_REPLY_CLASS: dict[str, Any] = {HELLO: pb.HelloReply, JOIN: pb.JoinReply, LEAVE: pb.LeaveReply,
                                RUN_STEP: pb.StepReply}
