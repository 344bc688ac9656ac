"""REST paths, error codes and auth header names.

Kept free of heavy imports: gd2ctl imports this module on every call.
"""

from __future__ import annotations

API_VERSION = "v1"

PING = "/ping"
VERSION = "/version"
OPENAPI = "/openapi.json"
PEERS = "/v1/peers"
VOLUMES = "/v1/volumes"
DEBUG_STORE = "/v1/debug/store"
EVENTS = "/v1/events"
EVENTS_STREAM = "/v1/events/stream"
WEBHOOKS = "/v1/events/webhooks"


def volume(name: str) -> str:
    """Path of one volume."""
    return f"{VOLUMES}/{name}"


def volume_start(name: str) -> str:
    return f"{VOLUMES}/{name}/start"


def volume_stop(name: str) -> str:
    return f"{VOLUMES}/{name}/stop"


def volume_status(name: str) -> str:
    return f"{VOLUMES}/{name}/status"


def volume_options(name: str) -> str:
    return f"{VOLUMES}/{name}/options"


def volume_options_reset(name: str) -> str:
    return f"{VOLUMES}/{name}/options/reset"


def webhook(ref: str) -> str:
    return f"{WEBHOOKS}/{ref}"


REQUEST_ID_HEADER = "X-Request-ID"
AUTH_HEADER = "Authorization"

# HTTP status for each error code of gd2.errors; one table for server and client.
STATUS_OF_CODE: dict[str, int] = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthorized": 401,
    "peer_refused": 403,
    "unavailable": 503,
    "brick_failed": 500,
    "daemon_failed": 500,
    "bad_config": 500,
    "internal": 500,
}
