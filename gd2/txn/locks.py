"""Cluster-wide named locks in the store, tied to a lease.

A lock is the key ``locks/<name>`` (``locks/volume/gv0``), created only if it
does not exist and attached to a lease that the holding transaction keeps
alive while it runs.  Its value names the holder (transaction, peer id, node
name) so that a refused request can say who holds it.  Release deletes the
key if it is still ours (compare-and-swap); a holder that dies without
releasing loses its lock when the lease expires, and recovery deletes the
locks named in a dead transaction's record at once.

Several locks are taken in sorted order so that two transactions wanting the
same set cannot deadlock.  Reads never take locks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
import trio

from gd2.errors import Conflict, GD2Error, Unavailable
from gd2.store import Store

log = structlog.get_logger(__name__)

LOCKS = "locks/"
KIND_LOCK = "lock"

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0


def lock_key(name: str) -> str:
    return LOCKS + name


def describe(name: str) -> str:
    """``volume/gv0`` reads as ``volume gv0`` in messages."""
    return name.replace("/", " ", 1)


@dataclass(frozen=True)
class LockHolder:
    txnid: str
    peer_id: str
    node_name: str

    def to_data(self) -> dict[str, str]:
        return {"txnid": self.txnid, "peer_id": self.peer_id, "node": self.node_name}


def _busy(name: str, value: object) -> Conflict:
    holder = value if isinstance(value, dict) else {}
    txnid = str(holder.get("txnid", "?"))
    node = str(holder.get("node") or holder.get("peer_id") or "?")
    return Conflict(f"{describe(name)} is locked by transaction {txnid} on node {node}",
                    {"lock": name, "txnid": txnid, "node": node})


async def acquire(store: Store, names: Iterable[str], holder: LockHolder, lease: int, *,
                  wait: float) -> None:
    """Take every lock in ``names`` on ``lease``, waiting at most ``wait`` seconds
    in all; a lock still held then is a ``Conflict`` naming its holder.

    Locks taken before a refusal stay on the lease: the caller releases them
    (or revokes the lease).
    """
    deadline = trio.current_time() + wait
    for name in sorted(set(names)):
        delay = _FIRST_DELAY
        while not await store.create(lock_key(name), KIND_LOCK, holder.to_data(), lease=lease):
            current = await store.get(lock_key(name))
            if current is None:
                continue  # released between our two calls: try again at once
            if current.value.get("txnid") == holder.txnid:
                break
            remaining = deadline - trio.current_time()
            if remaining <= 0:
                raise _busy(name, current.value)
            log.debug("lock busy; waiting", lock=name, holder=current.value.get("txnid"))
            await trio.sleep(min(delay, remaining))
            delay = min(delay * 2, _MAX_DELAY)


async def release(store: Store, names: Iterable[str], txnid: str) -> None:
    """Delete the locks in ``names`` that ``txnid`` still holds; others are left alone."""
    for name in sorted(set(names)):
        entry = await store.get(lock_key(name))
        if entry is not None and entry.value.get("txnid") == txnid:
            await store.delete(lock_key(name), mod_revision=entry.mod_revision)


async def release_quietly(store: Store, names: Iterable[str], txnid: str, lease: int | None) -> None:
    """Release (and revoke the lease); failures are only logged, since the
    lease expiry frees the locks anyway.  The caller shields and bounds it."""
    try:
        await release(store, names, txnid)
    except GD2Error as exc:
        log.warning("releasing locks failed; they go when their lease expires", error=str(exc))
    if lease is not None:
        with contextlib.suppress(GD2Error):
            await store.revoke_lease(lease)


class LeaseLost(Unavailable):
    """The lease under a transaction's locks expired: other nodes may take them."""


async def keep_lease(store: Store, lease: int, ttl: int) -> None:
    """Refresh ``lease`` every third of ``ttl`` until cancelled; raise
    :class:`LeaseLost` if it expired (the store was out of reach too long)."""
    while True:
        await trio.sleep(ttl / 3)
        try:
            remaining = await store.refresh_lease(lease)
        except Unavailable as exc:
            log.warning("could not refresh the lock lease; retrying", error=str(exc))
            continue
        if remaining <= 0:
            raise LeaseLost(f"the lease of this transaction's locks expired (ttl {ttl}s)")
