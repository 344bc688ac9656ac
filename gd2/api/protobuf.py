"""Protobuf messages as bytes: the two operations both gRPC protocols (peer, plugin) need.

grpc carries raw bytes in glusterd2 (no generated stubs); each protocol's
wire module turns them into its dataclasses with these.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError


class MalformedMessage(ValueError):
    """The bytes are not the protobuf message they should be."""


def parse(cls: Any, data: bytes) -> Any:
    """``data`` as a message of class ``cls``; :class:`MalformedMessage` if it is not one."""
    message = cls()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise MalformedMessage(f"not a {cls.DESCRIPTOR.full_name}: {exc}") from None
    return message


def serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data
