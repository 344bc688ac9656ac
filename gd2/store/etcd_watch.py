"""Watches on etcd for :class:`gd2.store.etcd.EtcdStore`, bridged to trio.

etcd3 runs one watcher thread per connection and calls a callback there for
every response (or once with the error, or None, when its stream ends).  The
callback decodes the changes in that thread and hands them to the trio
thread with ``TrioToken.run_sync_soon`` (thread-safe, never blocks); a
:class:`gd2.store.watch.ChangeStream` buffers them for the reading task.
A watch on a connection that is replaced or closed ends, like one whose
member died: the reader opens a new one (and lists to catch up).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

import etcd3.events
import etcd3.exceptions
import etcd3.watch
import structlog
import trio

from gd2.errors import GD2Error, Unavailable
from gd2.store import codec
from gd2.store.base import Change, Entry
from gd2.store.watch import ChangeStream

log = structlog.get_logger(__name__)

T = TypeVar("T")


class _Caller(Protocol):
    async def __call__(self, what: str, fn: Callable[[Any], T], *, idempotent: bool = False) -> T: ...


def _changes(store_prefix: str, response: Any) -> list[Change]:
    changes = []
    for event in response.events:
        key = bytes(event.key).decode()[len(store_prefix):]
        revision = int(event.mod_revision)
        if isinstance(event, etcd3.events.DeleteEvent):
            changes.append(Change(key, revision, None))
            continue
        try:
            kind, schema, value = codec.decode(key, bytes(event.value))
        except GD2Error as exc:  # not ours: skipped here as a get would refuse it
            log.warning("undecodable value in a watch skipped", key=key, error=exc.message)
            continue
        changes.append(Change(key, revision, Entry(key, kind, schema, value, revision)))
    return changes


@contextlib.asynccontextmanager
async def watch(call: _Caller, store_prefix: str, prefix: str) -> AsyncIterator[AsyncIterator[Change]]:
    """The context of one watch on ``store_prefix + prefix`` (see ``Store.watch_prefix``)."""
    full = store_prefix + prefix
    stream = ChangeStream(f"watch on {prefix or '/'}")
    token = trio.lowlevel.current_trio_token()
    done = False

    def on_response(response: Any) -> None:  # in etcd3's watcher thread
        if done:
            return
        if isinstance(response, etcd3.watch.WatchResponse):
            hand_over = partial(stream.push, _changes(store_prefix, response))
        else:
            reason = "its stream ended" if response is None else f"{type(response).__name__}: {response}"
            hand_over = partial(stream.fail, reason)
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(hand_over)

    clients: list[Any] = []

    def add(client: Any) -> int:
        clients.append(client)
        return int(client.add_watch_prefix_callback(full, on_response))

    try:
        watch_id = await call(f"watch {prefix}", add, idempotent=True)
    except etcd3.exceptions.WatchTimedOut:
        raise Unavailable(f"etcd did not set up a watch on {prefix!r} in time") from None
    try:
        yield stream
    finally:
        done = True
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            client = clients[-1]
            with contextlib.suppress(Exception):  # a closed connection has dropped the watch already
                await trio.to_thread.run_sync(client.cancel_watch, watch_id)
