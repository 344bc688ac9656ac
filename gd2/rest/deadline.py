"""The request deadline: every handler's work is bounded by Config.request_timeout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

from gd2.errors import Unavailable

T = TypeVar("T")


async def within(seconds: float, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` under the request deadline; a timeout is reported as Unavailable."""
    try:
        with trio.fail_after(seconds):
            return await fn()
    except trio.TooSlowError:
        raise Unavailable(f"the request did not complete within {seconds:g}s") from None
