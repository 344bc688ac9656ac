"""Errors that cross layers and processes.

Every failure a caller can act on is a :class:`GD2Error` with a stable
``code``; the REST layer turns it into ``{"error": {"code", "message",
"fields"}}`` and gd2ctl prints its message.  Codes are the contract, class
names are a convenience.
"""

from __future__ import annotations

from collections.abc import Mapping


class GD2Error(Exception):
    """Base of every error glusterd2 reports to a caller."""

    code = "internal"

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})

    def __str__(self) -> str:
        return self.message


class InvalidRequest(GD2Error):
    """The request is malformed or violates a rule (bad name, brick count...)."""

    code = "invalid"


class NotFound(GD2Error):
    """The named volume, peer or resource does not exist."""

    code = "not_found"


class Conflict(GD2Error):
    """The request clashes with current state (name taken, brick in use...)."""

    code = "conflict"


class Unauthorized(GD2Error):
    """Missing or wrong credentials."""

    code = "unauthorized"


class Unavailable(GD2Error):
    """A dependency (etcd, a peer) cannot be reached right now."""

    code = "unavailable"


class BrickError(GD2Error):
    """An operation on a brick directory failed on disk."""

    code = "brick_failed"


class ConfigError(GD2Error):
    """The configuration file or flags are invalid."""

    code = "bad_config"


class InternalError(GD2Error):
    """A bug or an unexpected failure; the message says what was being done."""

    code = "internal"
