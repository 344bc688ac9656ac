"""The store interface seen by the rest of glusterd2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Entry:
    """A decoded value, with the revision needed for compare-and-swap."""

    key: str
    kind: str
    schema: int
    value: Any
    mod_revision: int


@dataclass(frozen=True)
class Change:
    """One change seen by a watch: ``entry`` is the new value, None when the key was deleted."""

    key: str
    revision: int
    entry: Entry | None


class Store(Protocol):
    """Keys are relative to the cluster's prefix (``gd2/<cluster-id>/``).

    Every write that depends on a check is one compare-and-swap; there is no
    read-then-write.  Failures to reach the store raise ``gd2.errors.Unavailable``.
    """

    async def get(self, key: str) -> Entry | None: ...

    async def list_prefix(self, prefix: str) -> list[Entry]: ...

    async def create(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> bool:
        """Write ``key`` only if it does not exist; False if it does."""
        ...

    async def put(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> None: ...

    async def update(self, key: str, kind: str, value: Any, mod_revision: int) -> bool:
        """Write ``key`` only if it is unchanged since ``mod_revision``."""
        ...

    async def delete(self, key: str, *, mod_revision: int | None = None) -> bool:
        """Delete ``key`` (only if unchanged since ``mod_revision`` when given)."""
        ...

    async def grant_lease(self, ttl: int) -> int: ...

    async def refresh_lease(self, lease: int) -> int:
        """Keep ``lease`` alive; returns its remaining TTL (0 or less: it expired)."""
        ...

    async def revoke_lease(self, lease: int) -> None: ...

    def watch_prefix(self, prefix: str) -> AbstractAsyncContextManager[AsyncIterator[Change]]:
        """Watch the keys under ``prefix`` from now on (the watch exists once entered).

        The iterator yields changes in revision order and raises
        ``gd2.errors.Unavailable`` when the watch breaks (the store went away,
        or the reader fell too far behind): open a new watch, then list the
        prefix, to catch up.
        """
        ...

    async def close(self) -> None: ...
