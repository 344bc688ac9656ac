"""Errors of the peer RPC layer.

grpc's exceptions never leave :mod:`gd2.peer`: the client turns them into
these :class:`~gd2.errors.GD2Error` subclasses at its edge, and an error the
remote application raised comes back as the same code and message it had
there (:func:`remote_error`).
"""

from __future__ import annotations

from collections.abc import Mapping

from gd2.errors import (
    BrickError,
    ConfigError,
    Conflict,
    GD2Error,
    InternalError,
    InvalidRequest,
    NotFound,
    Unauthorized,
    Unavailable,
)


class PeerUnreachable(Unavailable):
    """The peer did not answer in time: nothing listens, the network is down, or the deadline passed."""

    def __init__(self, address: str, detail: str, *, never_sent: bool = False) -> None:
        super().__init__(f"peer {address} is unreachable: {detail}", {"peer": address})
        self.address = address
        # True when no connection could be made: the call cannot have reached the peer,
        # so sending it again is safe even for a call that is not idempotent.
        self.never_sent = never_sent


class PeerRefused(GD2Error):
    """The peer refused the call: our certificate is not from its pool's CA, or strangers may not call this."""

    code = "peer_refused"

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"peer {address} refused the call: {detail}", {"peer": address})
        self.address = address


class PeerProtocolError(InternalError):
    """The peer answered, but not in a way this version of the protocol understands."""

    def __init__(self, address: str, detail: str) -> None:
        super().__init__(f"peer {address} answered unexpectedly: {detail}", {"peer": address})
        self.address = address


class UnknownStep(NotFound):
    """A RunStep named a step this node does not know (raised by the application's handler)."""

    def __init__(self, step: str) -> None:
        super().__init__(f"step {step!r} is not known on this peer", {"step": step})
        self.step = step


class RemoteError(GD2Error):
    """A remote application error whose code has no class in :mod:`gd2.errors` (e.g. ``daemon_failed``)."""

    def __init__(self, code: str, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message, fields)
        self.code = code


# The error classes of layer 0, by code: a remote error is re-raised as the same class.
_CLASS_OF_CODE: dict[str, type[GD2Error]] = {
    cls.code: cls for cls in (InvalidRequest, NotFound, Conflict, Unauthorized, Unavailable, BrickError,
                              ConfigError, InternalError)
}


def remote_error(code: str, message: str, fields: Mapping[str, str]) -> GD2Error:
    """Rebuild an application error that crossed the wire: same code, message and fields."""
    cls = _CLASS_OF_CODE.get(code)
    if cls is None:
        return RemoteError(code, message, fields)
    return cls(message, fields)
