"""The reading end of a store watch, shared by the etcd adapter and the fake.

The side that sees changes (etcd3's watcher thread, through the trio token;
the fake, directly) calls :meth:`ChangeStream.push` or :meth:`ChangeStream.fail`
from the trio thread; one task reads with ``async for``.  The buffer is
bounded: a reader that falls ``limit`` changes behind breaks the watch
instead of growing memory, and catches up by listing, as after any break.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import trio

from gd2.errors import Unavailable
from gd2.store.base import Change


class ChangeStream:
    def __init__(self, what: str, limit: int = 4096) -> None:
        self._what = what
        self._limit = limit
        self._items: deque[Change] = deque()
        self._broken: str | None = None
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def broken(self) -> bool:
        return self._broken is not None

    def push(self, changes: Iterable[Change]) -> None:
        if self._broken is not None:
            return
        self._items.extend(changes)
        if len(self._items) > self._limit:
            self._items.clear()
            self._broken = f"the reader fell more than {self._limit} changes behind"
        self._lot.unpark_all()

    def fail(self, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
        self._lot.unpark_all()

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> Change:
        await trio.lowlevel.checkpoint()
        while not self._items:
            if self._broken is not None:
                raise Unavailable(f"{self._what} broke: {self._broken}")
            await self._lot.park()
        return self._items.popleft()
