"""Acting on the changes under a prefix as they happen: a watch that catches up after it breaks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
import trio

from gd2.errors import Unavailable
from gd2.store.base import Store

log = structlog.get_logger(__name__)


async def follow(store: Store, prefix: str, react: Callable[[], Awaitable[None]], *, retry: float = 1.0,
                 task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Call ``react`` once the watch on ``prefix`` is open, then after each change under it.

    ``react`` reads what it needs itself (a list of the prefix, typically) and handles its
    own errors.  When the watch breaks (etcd away, a member replaced, this reader too far
    behind) it is opened again after ``retry`` seconds and ``react`` runs once more, so a
    change made meanwhile is not missed.  Started once the first watch is open; never
    raises for an unavailable store (it keeps trying), so it can run from ``start_soon``.
    """
    started = False
    while True:
        try:
            async with store.watch_prefix(prefix) as changes:
                await react()
                if not started:
                    task_status.started()
                    started = True
                async for _change in changes:
                    await react()
        except Unavailable as exc:
            log.info("watch broke or cannot open; trying again", prefix=prefix, error=exc.message)
        await trio.sleep(retry)
