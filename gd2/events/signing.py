"""Webhook signatures and the retry schedule (pure functions).

A webhook with a secret gets ``X-Gd2-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw request body keyed with the secret, as GitHub does
for its webhooks; a receiver recomputes it over the bytes it received and
compares in constant time (:func:`verify`).  The body holds the event id,
so a replayed delivery is recognised by the id a receiver has already seen.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Gd2-Signature"
EVENT_HEADER = "X-Gd2-Event"
KIND_HEADER = "X-Gd2-Event-Kind"
WEBHOOK_HEADER = "X-Gd2-Webhook"
ATTEMPT_HEADER = "X-Gd2-Delivery-Attempt"


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` with ``secret``."""
    return header is not None and hmac.compare_digest(sign(secret, body), header.strip())


def backoff(attempt: int, *, first: float, cap: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): doubling from ``first`` up to ``cap``."""
    return min(cap, first * 2.0 ** min(max(attempt - 1, 0), 62))
