"""The etcd adapter: etcd3's blocking gRPC client, bridged to trio here only.

Every call runs in a worker thread (``trio.to_thread``) with the client's own
gRPC deadline, so a cancelled trio task never leaves a call hanging for long;
etcd3 and gRPC exceptions become ``gd2.errors.Unavailable`` at this edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import etcd3
import etcd3.exceptions
import grpc
import structlog
import trio

from gd2.errors import InvalidRequest, Unavailable
from gd2.store import codec
from gd2.store.base import Entry

log = structlog.get_logger(__name__)

T = TypeVar("T")

_UNREACHABLE = (
    etcd3.exceptions.ConnectionFailedError,
    etcd3.exceptions.ConnectionTimeoutError,
    etcd3.exceptions.NoServerAvailableError,
    etcd3.exceptions.InternalServerError,
    grpc.RpcError,
)


def _endpoint(url: str) -> Any:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise InvalidRequest(f"etcd endpoint {url!r} is not http://HOST:PORT")
    return etcd3.Endpoint(parts.hostname, parts.port, secure=False)


class EtcdStore:
    """A :class:`gd2.store.Store` on an etcd cluster, scoped to one key prefix."""

    def __init__(self, endpoints: Sequence[str], prefix: str, rpc_timeout: float) -> None:
        self._endpoints = list(endpoints)
        self._prefix = prefix.rstrip("/") + "/"
        self._client: Any = etcd3.MultiEndpointEtcd3Client(
            endpoints=[_endpoint(u) for u in endpoints], timeout=rpc_timeout, failover=True
        )

    @property
    def prefix(self) -> str:
        return self._prefix

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return await trio.to_thread.run_sync(fn)
        except _UNREACHABLE as exc:
            detail = exc.details() if isinstance(exc, grpc.RpcError) else type(exc).__name__
            raise Unavailable(
                f"etcd at {', '.join(self._endpoints)} did not answer ({what}): {detail}"
            ) from None

    def _entry(self, key: bytes, raw: bytes, meta: Any) -> Entry:
        relative = key.decode()[len(self._prefix):]
        kind, schema, value = codec.decode(relative, raw)
        return Entry(relative, kind, schema, value, int(meta.mod_revision))

    async def ping(self) -> None:
        """Raise Unavailable unless the cluster answers a status request."""
        await self._call("status", self._client.status)

    async def get(self, key: str) -> Entry | None:
        full = self._prefix + key
        raw, meta = await self._call(f"get {key}", lambda: self._client.get(full))
        return None if raw is None else self._entry(full.encode(), raw, meta)

    async def list_prefix(self, prefix: str) -> list[Entry]:
        full = self._prefix + prefix
        rows = await self._call(f"list {prefix}", lambda: list(self._client.get_prefix(full)))
        return [self._entry(meta.key, raw, meta) for raw, meta in rows]

    async def _txn(self, what: str, compare: list[Any], success: list[Any]) -> bool:
        ok, _ = await self._call(what, lambda: self._client.transaction(compare=compare, success=success, failure=[]))
        return bool(ok)

    def _put_op(self, key: str, kind: str, value: Any, lease: int | None) -> Any:
        return self._client.transactions.put(self._prefix + key, codec.encode(kind, value), lease=lease)

    async def create(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> bool:
        tx = self._client.transactions
        return await self._txn(
            f"create {key}", [tx.create(self._prefix + key) == 0], [self._put_op(key, kind, value, lease)]
        )

    async def put(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> None:
        data = codec.encode(kind, value)
        await self._call(f"put {key}", lambda: self._client.put(self._prefix + key, data, lease=lease))

    async def update(self, key: str, kind: str, value: Any, mod_revision: int) -> bool:
        tx = self._client.transactions
        return await self._txn(
            f"update {key}",
            [tx.mod(self._prefix + key) == mod_revision],
            [self._put_op(key, kind, value, None)],
        )

    async def delete(self, key: str, *, mod_revision: int | None = None) -> bool:
        full = self._prefix + key
        if mod_revision is None:
            return bool(await self._call(f"delete {key}", lambda: self._client.delete(full)))
        tx = self._client.transactions
        return await self._txn(f"delete {key}", [tx.mod(full) == mod_revision], [tx.delete(full)])

    async def grant_lease(self, ttl: int) -> int:
        lease = await self._call("grant lease", lambda: self._client.lease(ttl))
        return int(lease.id)

    async def refresh_lease(self, lease: int) -> int:
        replies = await self._call("refresh lease", lambda: list(self._client.refresh_lease(lease)))
        return int(replies[0].TTL) if replies else 0

    async def revoke_lease(self, lease: int) -> None:
        await self._call("revoke lease", lambda: self._client.revoke_lease(lease))

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._client.close)
