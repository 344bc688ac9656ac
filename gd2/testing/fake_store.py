"""An in-memory :class:`gd2.store.Store` with etcd's revision semantics.

Values go through the same codec as the real store, so a value the fake
accepts is one etcd would hold.  Leases never expire on their own; tests
call :meth:`expire_lease` to simulate a node dying.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import trio

from gd2.store import codec
from gd2.store.base import Change, Entry
from gd2.store.watch import ChangeStream


class FakeStore:
    def __init__(self) -> None:
        self._data: dict[str, tuple[bytes, int, int | None]] = {}
        self._revision = 0
        self._leases: set[int] = set()
        self._next_lease = 1000
        self._watches: list[tuple[str, ChangeStream]] = []

    def _entry(self, key: str) -> Entry | None:
        item = self._data.get(key)
        if item is None:
            return None
        kind, schema, value = codec.decode(key, item[0])
        return Entry(key, kind, schema, value, item[1])

    def _write(self, key: str, kind: str, value: Any, lease: int | None) -> None:
        if lease is not None and lease not in self._leases:
            raise KeyError(f"lease {lease} not found")
        self._revision += 1
        self._data[key] = (codec.encode(kind, value), self._revision, lease)
        self._notify(key, self._entry(key))

    def _notify(self, key: str, entry: Entry | None) -> None:
        for prefix, stream in self._watches:
            if key.startswith(prefix):
                stream.push([Change(key, self._revision, entry)])

    @contextlib.asynccontextmanager
    async def watch_prefix(self, prefix: str) -> AsyncIterator[AsyncIterator[Change]]:
        await trio.lowlevel.checkpoint()
        watch = (prefix, ChangeStream(f"watch on {prefix or '/'}"))
        self._watches.append(watch)
        try:
            yield watch[1]
        finally:
            self._watches.remove(watch)

    def break_watches(self, reason: str = "the store went away") -> None:
        """End every open watch with an error, as a lost etcd connection does."""
        for _, stream in self._watches:
            stream.fail(reason)

    async def get(self, key: str) -> Entry | None:
        await trio.lowlevel.checkpoint()
        return self._entry(key)

    async def list_prefix(self, prefix: str) -> list[Entry]:
        await trio.lowlevel.checkpoint()
        return [e for k in sorted(self._data) if k.startswith(prefix) and (e := self._entry(k))]

    async def create(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        if key in self._data:
            return False
        self._write(key, kind, value, lease)
        return True

    async def put(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> None:
        await trio.lowlevel.checkpoint()
        self._write(key, kind, value, lease)

    async def update(self, key: str, kind: str, value: Any, mod_revision: int) -> bool:
        await trio.lowlevel.checkpoint()
        item = self._data.get(key)
        if item is None or item[1] != mod_revision:
            return False
        self._write(key, kind, value, None)
        return True

    async def delete(self, key: str, *, mod_revision: int | None = None) -> bool:
        await trio.lowlevel.checkpoint()
        item = self._data.get(key)
        if item is None or (mod_revision is not None and item[1] != mod_revision):
            return False
        del self._data[key]
        self._revision += 1
        self._notify(key, None)
        return True

    async def grant_lease(self, ttl: int) -> int:
        await trio.lowlevel.checkpoint()
        self._next_lease += 1
        self._leases.add(self._next_lease)
        return self._next_lease

    async def refresh_lease(self, lease: int) -> int:
        await trio.lowlevel.checkpoint()
        return 10 if lease in self._leases else -1

    async def revoke_lease(self, lease: int) -> None:
        await trio.lowlevel.checkpoint()
        self.expire_lease(lease)

    def expire_lease(self, lease: int) -> None:
        """Drop the lease and every key attached to it, as etcd does."""
        self._leases.discard(lease)
        for key in [k for k, (_, _, attached) in self._data.items() if attached == lease]:
            del self._data[key]
            self._revision += 1
            self._notify(key, None)

    async def close(self) -> None:
        await trio.lowlevel.checkpoint()
