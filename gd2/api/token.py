"""REST bearer tokens, derived from the node's secret (stdlib only: gd2ctl imports it)."""

from __future__ import annotations

import hashlib
import hmac

_TOKEN_CONTEXT = b"gd2-rest-token-v1"


def derive_token(secret: bytes) -> str:
    """The bearer token for ``secret`` (the stripped contents of ``<localstatedir>/auth``)."""
    return hmac.new(secret.strip(), _TOKEN_CONTEXT, hashlib.sha256).hexdigest()
