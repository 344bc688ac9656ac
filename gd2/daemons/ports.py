"""Brick ports: a free TCP port per brick, as glusterd1 picks them (49152-60999)."""

from __future__ import annotations

import random
import socket
from collections.abc import Container

from gd2.errors import Unavailable

BRICK_PORT_MIN = 49152
BRICK_PORT_MAX = 60999


def port_is_free(address: str, port: int) -> bool:
    """True when ``address:port`` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def allocate_port(address: str, taken: Container[int], *, rng: random.Random | None = None,
                  low: int = BRICK_PORT_MIN, high: int = BRICK_PORT_MAX) -> int:
    """A port in [low, high] that no brick of ours holds and nothing has bound.

    The search starts at a random point so that bricks started at once, or a
    port just released by a stopped brick, do not race for the same number.
    """
    span = high - low + 1
    start = (rng or random).randrange(span)
    for offset in range(span):
        port = low + (start + offset) % span
        if port not in taken and port_is_free(address, port):
            return port
    raise Unavailable(f"no free brick port on {address} in {low}-{high}")
