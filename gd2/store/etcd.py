"""The etcd adapter: etcd3's blocking gRPC client, bridged to trio here only.

Every call runs in a worker thread (``trio.to_thread``) with the client's own
gRPC deadline, so a cancelled trio task never leaves a call hanging for long;
etcd3 and gRPC exceptions become ``gd2.errors`` at this edge (``Unavailable``
when etcd cannot be reached or has no quorum).

With several endpoints the client fails over: an endpoint that fails is
skipped for ``endpoint_retry`` seconds and the call is tried on the next one
when that is safe -- a call whose repetition changes nothing (reads, ``put``,
lease grant and refresh) after any connection failure, a compare-and-swap
only when the connection could not be made at all (so it cannot have been
applied).  A call that times out is not retried, which keeps every call
within about one ``rpc_timeout``.  So just after a member dies, one CAS write
may still raise Unavailable ("Socket closed"): the caller retries it.

https endpoints are reached with the files of an :class:`EtcdTLS` (the CA
that signed etcd's certificate, and our client certificate): each endpoint
gets a TLS channel of its own, checked against its IP address or name, so
failover works as with http.  http endpoints take no TLS; whether plain http
is acceptable at all is the configuration's decision (``etcd-allow-http``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import etcd3
import etcd3.exceptions
import grpc
import structlog
import trio

from gd2.errors import GD2Error, InvalidRequest, Unavailable
from gd2.store import codec, etcd_watch
from gd2.store.base import Change, Entry
from gd2.store.membership import (
    Member,
    MemberExists,
    MemberNotFound,
    MembershipRefused,
    check_peer_url,
)
from gd2.store.tls import EtcdTLS, EtcdTLSError, explain_tls_failure

log = structlog.get_logger(__name__)

T = TypeVar("T")

_UNREACHABLE = (
    etcd3.exceptions.ConnectionFailedError,
    etcd3.exceptions.ConnectionTimeoutError,
    etcd3.exceptions.NoServerAvailableError,
    etcd3.exceptions.InternalServerError,
    etcd3.exceptions.PreconditionFailedError,
    grpc.RpcError,
)

# gRPC codes after which etcd3 marks an endpoint failed (its _FAILED_EP_CODES).
_ENDPOINT_FAILED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL)


def _endpoint(url: str, retry: float, credentials: grpc.ChannelCredentials | None) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        raise InvalidRequest(f"etcd endpoint {url!r} is not https://HOST:PORT (or http://HOST:PORT)")
    if (parts.scheme == "https") != (credentials is not None):
        raise InvalidRequest(f"etcd endpoint {url!r}: https needs TLS files (a CA, a client certificate), "
                             "http takes none")
    # A channel of its own, not one shared through gRPC's global subchannel pool: a store made after
    # an in-process restart must not inherit the backoff of a connection to the etcd that was stopped.
    return etcd3.Endpoint(parts.hostname, parts.port, secure=credentials is not None, creds=credentials,
                          time_retry=retry, opts=[("grpc.use_local_subchannel_pool", 1)])


def _credentials(tls: EtcdTLS | None) -> grpc.ChannelCredentials | None:
    if tls is None:
        return None
    try:
        ca, key, cert = tls.read()
    except OSError as exc:
        raise EtcdTLSError(f"cannot read etcd's TLS file {exc.filename}: {exc.strerror}") from None
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def _rpc_error(exc: BaseException) -> grpc.RpcError | None:
    """The gRPC error behind ``exc``: etcd3 raises its own exceptions *from within* the handler."""
    for candidate in (exc, exc.__context__):
        if isinstance(candidate, grpc.RpcError):
            return candidate
    return None


def _code_and_details(exc: BaseException) -> tuple[grpc.StatusCode | None, str]:
    error = _rpc_error(exc)
    if error is None:
        return None, type(exc).__name__
    code: grpc.StatusCode = error.code()
    details: str = error.details() or ""
    return code, details


def _not_connected(details: str) -> bool:
    """True when gRPC could not open a connection, so the request never left."""
    lowered = details.lower()
    return "failed to connect" in lowered or "connection refused" in lowered


def _membership_error(code: grpc.StatusCode | None, details: str, what: str) -> GD2Error | None:
    """etcd's answers to member add/remove, as gd2 errors (None: not a membership answer).

    Matched on etcd's error strings (rpctypes), which are its stable API;
    the gRPC codes differ between them and between etcd versions.
    """
    if code is None:
        return None
    if "member not found" in details:
        return MemberNotFound(f"etcd has no such member ({what}): {details}")
    if "member ID already exist" in details or "Peer URLs already exists" in details:
        return MemberExists(f"etcd refused {what}: {details}")
    if "given member URLs are invalid" in details:
        return InvalidRequest(f"etcd refused {what}: {details}")
    if "not enough started members" in details or "unhealthy cluster" in details:
        return MembershipRefused(
            f"etcd refused {what} to protect its quorum ({details}); retry once every member "
            "has been connected for 5 s, or remove dead members first"
        )
    return None


def _revive(client: Any) -> None:
    """Clear etcd3's "failed" mark on every endpoint (Endpoint.last_failed is public)."""
    for endpoint in client.endpoints.values():
        endpoint.last_failed = 0


def _member(raw: Any) -> Member:
    return Member(int(raw.id), str(raw.name), tuple(raw.peer_urls), tuple(raw.client_urls))


@dataclass(eq=False)
class _Client:
    """One etcd3 client for one endpoint list; closed once replaced and idle."""

    urls: tuple[str, ...]
    client: Any
    calls: int = 0
    retired: bool = False


class EtcdStore:
    """A :class:`gd2.store.Store` on an etcd cluster, scoped to one key prefix.

    Also the etcd cluster's membership (``members``, ``add_member``,
    ``remove_member``, ``leader_id``) for the pool logic that grows and
    heals it, and ``set_endpoints`` to follow the member list.
    """

    def __init__(
        self, endpoints: Sequence[str], prefix: str, rpc_timeout: float, *, tls: EtcdTLS | None = None,
        endpoint_retry: float = 1.0,
    ) -> None:
        self._prefix = prefix.rstrip("/") + "/"
        self._rpc_timeout = rpc_timeout
        self._endpoint_retry = endpoint_retry
        self._tls = tls
        # Read once: a join or leave replaces (or removes) the files, then restarts with a new store.
        self._credentials = _credentials(tls)
        self._conn = self._connect(endpoints)

    def _connect(self, urls: Sequence[str]) -> _Client:
        if not urls:
            raise InvalidRequest("no etcd endpoints given")
        credentials = self._credentials if any(u.startswith("https:") for u in urls) else None
        endpoints = [_endpoint(u, self._endpoint_retry, credentials) for u in urls]
        client = etcd3.MultiEndpointEtcd3Client(endpoints=endpoints, timeout=self._rpc_timeout, failover=True)
        # etcd3 starts on a random endpoint; start on the first, as given (a
        # member node lists its own etcd first), through the property etcd3
        # itself uses to switch endpoints.
        client._current_endpoint_label = endpoints[0].netloc
        return _Client(tuple(urls), client)

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The client URLs calls go to (in order of preference after a failure)."""
        return self._conn.urls

    @property
    def current_endpoint(self) -> str | None:
        """The endpoint the next call goes to first (None until one is picked)."""
        in_use = self._conn.client.endpoint_in_use
        if in_use is None:
            return None
        return next((u for u in self._conn.urls if urlsplit(u).netloc == in_use.netloc), None)

    def set_endpoints(self, endpoints: Sequence[str]) -> None:
        """Send later calls to ``endpoints`` (e.g. the client URLs of the current members).

        The first is used until it fails, then the next that has not failed.

        Calls already running finish on the old connections, which are closed after them.
        """
        if tuple(endpoints) == self._conn.urls:
            return
        old, self._conn = self._conn, self._connect(endpoints)
        log.info("etcd endpoints changed", endpoints=",".join(endpoints), was=",".join(old.urls))
        self._retire(old)

    @staticmethod
    def _retire(conn: _Client) -> None:
        conn.retired = True
        if conn.calls == 0:
            conn.client.close()

    async def _call(self, what: str, fn: Callable[[Any], T], *, idempotent: bool = False,
                    abandon_on_cancel: bool = False) -> T:
        """Run ``fn(client)`` in a thread; fail over when safe; translate errors.

        ``idempotent``: applying ``fn`` twice is the same as once, so it may
        be sent again after any connection failure; other calls are sent
        again only if they never left.  ``abandon_on_cancel``: a cancelled
        caller does not wait for the thread (which ends at the client's
        timeout); only for calls whose outcome nobody needs.
        """
        conn = self._conn
        conn.calls += 1
        try:
            attempts = len(conn.urls)
            revived = False
            while True:
                try:
                    return await trio.to_thread.run_sync(fn, conn.client, abandon_on_cancel=abandon_on_cancel)
                except etcd3.exceptions.NoServerAvailableError:
                    if revived:
                        raise Unavailable(f"etcd at {', '.join(conn.urls)} did not answer ({what})") from None
                    # Every endpoint failed less than endpoint_retry ago: try them
                    # again rather than fail without asking anyone.
                    _revive(conn.client)
                    revived = True
                except _UNREACHABLE as exc:
                    attempts -= 1
                    code, details = _code_and_details(exc)
                    if isinstance(exc, grpc.RpcError) and code in _ENDPOINT_FAILED:
                        # etcd3 marks an endpoint failed only in its wrapped methods.
                        conn.client.endpoint_in_use.fail()
                    refused = _membership_error(code, details, what)
                    if refused is not None:
                        # etcd answered ("unhealthy cluster" is UNAVAILABLE): the endpoint is fine.
                        _revive(conn.client)
                        raise refused from None
                    failed_over = attempts > 0 and code == grpc.StatusCode.UNAVAILABLE and (
                        idempotent or _not_connected(details)
                    ) and any(not ep.is_failed() for ep in conn.client.endpoints.values())
                    if failed_over:
                        log.info("etcd endpoint failed; trying the next", what=what, error=details)
                        continue
                    raise Unavailable(f"etcd at {', '.join(conn.urls)} did not answer ({what}): {details}") from None
        finally:
            conn.calls -= 1
            if conn.retired and conn.calls == 0:
                conn.client.close()

    def _entry(self, key: bytes, raw: bytes, meta: Any) -> Entry:
        relative = key.decode()[len(self._prefix):]
        kind, schema, value = codec.decode(relative, raw)
        return Entry(relative, kind, schema, value, int(meta.mod_revision))

    async def ping(self) -> None:
        """Raise Unavailable unless the cluster answers a status request.

        When no endpoint answers because of TLS (a certificate refused on either side, http spoken to
        https or the reverse), raise :class:`EtcdTLSError` saying so in one line.
        """
        try:
            await self._call("status", lambda c: c.status(), idempotent=True)
        except Unavailable:
            why = await trio.to_thread.run_sync(self._explain_tls, abandon_on_cancel=True)
            if why is not None:
                raise EtcdTLSError(why) from None
            raise

    def _explain_tls(self) -> str | None:
        for url in self._conn.urls:
            why = explain_tls_failure(url, self._tls if url.startswith("https:") else None)
            if why is not None:
                return why
        return None

    async def get(self, key: str) -> Entry | None:
        full = self._prefix + key
        raw, meta = await self._call(f"get {key}", lambda c: c.get(full), idempotent=True)
        return None if raw is None else self._entry(full.encode(), raw, meta)

    async def list_prefix(self, prefix: str) -> list[Entry]:
        full = self._prefix + prefix
        rows = await self._call(f"list {prefix}", lambda c: list(c.get_prefix(full)), idempotent=True)
        return [self._entry(meta.key, raw, meta) for raw, meta in rows]

    def watch_prefix(self, prefix: str) -> AbstractAsyncContextManager[AsyncIterator[Change]]:
        """Changes under ``prefix`` from now on (``Store.watch_prefix``; gd2.store.etcd_watch)."""
        return etcd_watch.watch(self._call, self._prefix, prefix)

    async def _txn(self, what: str, compare: list[Any], success: list[Any]) -> bool:
        ok, _ = await self._call(what, lambda c: c.transaction(compare=compare, success=success, failure=[]))
        return bool(ok)

    def _put_op(self, key: str, kind: str, value: Any, lease: int | None) -> Any:
        return self._conn.client.transactions.put(self._prefix + key, codec.encode(kind, value), lease=lease)

    async def create(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> bool:
        tx = self._conn.client.transactions
        return await self._txn(
            f"create {key}", [tx.create(self._prefix + key) == 0], [self._put_op(key, kind, value, lease)]
        )

    async def put(self, key: str, kind: str, value: Any, *, lease: int | None = None) -> None:
        data = codec.encode(kind, value)
        await self._call(f"put {key}", lambda c: c.put(self._prefix + key, data, lease=lease), idempotent=True)

    async def update(self, key: str, kind: str, value: Any, mod_revision: int) -> bool:
        tx = self._conn.client.transactions
        return await self._txn(
            f"update {key}",
            [tx.mod(self._prefix + key) == mod_revision],
            [self._put_op(key, kind, value, None)],
        )

    async def delete(self, key: str, *, mod_revision: int | None = None) -> bool:
        full = self._prefix + key
        if mod_revision is None:
            return bool(await self._call(f"delete {key}", lambda c: c.delete(full)))
        tx = self._conn.client.transactions
        return await self._txn(f"delete {key}", [tx.mod(full) == mod_revision], [tx.delete(full)])

    async def grant_lease(self, ttl: int) -> int:
        # Sent twice, the first lease is never used and expires after ttl.
        lease = await self._call("grant lease", lambda c: c.lease(ttl), idempotent=True)
        return int(lease.id)

    async def refresh_lease(self, lease: int) -> int:
        replies = await self._call("refresh lease", lambda c: list(c.refresh_lease(lease)), idempotent=True)
        return int(replies[0].TTL) if replies else 0

    async def revoke_lease(self, lease: int) -> None:
        # Cleanup on the way out, under a short deadline: a lease not revoked expires after its TTL,
        # so a cancelled revoke (etcd without quorum while a pool stops) is not waited for.
        await self._call("revoke lease", lambda c: c.revoke_lease(lease), abandon_on_cancel=True)

    async def members(self, *, require_quorum: bool = True) -> list[Member]:
        """The etcd cluster's members, sorted by id.

        etcd 3.4 answers a member list from the answering member's own view,
        even without quorum; ``require_quorum`` first makes one linearizable
        read, so that a member cut off from the others raises Unavailable
        instead of answering a stale list.  Right after ``add_member`` the
        cluster may have no quorum until the new member starts (growing from
        1 to 2): build its ``initial_cluster`` from ``require_quorum=False``.
        """
        probe = self._prefix

        def list_members(client: Any) -> list[Member]:
            if require_quorum:
                client.get(probe)
            return sorted((_member(m) for m in client.members), key=lambda m: m.id)

        return await self._call("member list", list_members, idempotent=True)

    async def add_member(self, peer_url: str) -> Member:
        """Add a member that will listen for peers on ``peer_url``; it is not started yet.

        Raises InvalidRequest (bad URL), MemberExists (URL already a
        member's), MembershipRefused (etcd protects its quorum: a member is
        down or not started, or was connected less than 5 s ago) or
        Unavailable.
        """
        url = check_peer_url(peer_url)
        added = await self._call(f"member add {url}", lambda c: c.add_member([url]))
        member = _member(added)
        log.info("etcd member added", id=f"{member.id:x}", peer_url=url)
        return member

    async def remove_member(self, member_id: int) -> None:
        """Remove a member (its etcd process exits on its own when it learns it).

        Raises MemberNotFound, MembershipRefused (removing it would leave too
        few started members for a quorum) or Unavailable.
        """
        await self._call(f"member remove {member_id:x}", lambda c: c.remove_member(member_id))
        log.info("etcd member removed", id=f"{member_id:x}")

    async def update_member(self, member_id: int, peer_url: str) -> None:
        """Change where a member listens for its peers (etcdctl member update)."""
        url = check_peer_url(peer_url)
        await self._call(f"member update {member_id:x}", lambda c: c.update_member(member_id, [url]))
        log.info("etcd member updated", id=f"{member_id:x}", peer_url=url)

    async def leader_id(self) -> int | None:
        """The id of the current leader, as the answering member sees it (None: no leader)."""
        status = await self._call("status", lambda c: c.status(), idempotent=True)
        return None if status.leader is None else int(status.leader.id)

    async def close(self) -> None:
        conn = self._conn
        conn.retired = True
        if conn.calls == 0:
            await trio.to_thread.run_sync(conn.client.close)
