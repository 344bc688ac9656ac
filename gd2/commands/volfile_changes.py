"""Telling this node's GlusterFS processes when another node changed a volume's graph.

`volume set` on one node sends FETCHSPEC to the processes connected to that
node only; bricks, self-heal daemons and mounts connected to the other nodes
of the pool learn of it here: every node watches the volume records (an etcd
watch; each change lists them, small) and sends FETCHSPEC to its own
connections when a volume's options or bricks changed.  A second FETCHSPEC
for the same change is harmless: a process whose volfile did not change keeps
its graph.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import structlog
import trio

from gd2.commands import keys
from gd2.commands.volume_options import VolfileNotifier
from gd2.errors import GD2Error
from gd2.store import Store
from gd2.store.follow import follow

log = structlog.get_logger(__name__)


def graph_fingerprint(record: dict[str, Any]) -> str:
    """What of a volume record shapes its volfiles (options, bricks, type), as a digest."""
    shape = {k: record.get(k) for k in ("options", "bricks", "type", "replica", "arbiter", "disperse",
                                         "redundancy", "transport")}
    return hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()


class VolfileChanges:
    def __init__(self, store: Store, notifier: VolfileNotifier) -> None:
        self._store = store
        self._notifier = notifier
        self._seen: dict[str, str] | None = None

    async def check(self) -> bool:
        """One look at the volume records; True if a FETCHSPEC went out."""
        entries = await self._store.list_prefix(keys.VOLUMES)
        now = {e.key: graph_fingerprint(e.value) for e in entries if isinstance(e.value, dict)}
        before, self._seen = self._seen, now
        if before is None:
            return False
        # A volume seen for the first time counts too: it may have been created and changed
        # between two looks, after a client of this node fetched its first volfile.
        changed = [k for k, digest in now.items() if before.get(k) != digest]
        if not changed:
            return False
        log.info("volume graphs changed elsewhere; asking local processes to fetch their volfiles",
                 volumes=[k.removeprefix(keys.VOLUMES) for k in changed])
        await self._notifier.notify_fetchspec()
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Check on every change of a volume record (and after a broken watch is open again)."""
        await follow(self._store, keys.VOLUMES, self._check_quietly, task_status=task_status)

    async def _check_quietly(self) -> None:
        try:
            await self.check()
        except GD2Error as exc:
            log.info("cannot read volume records now", error=exc.message)
