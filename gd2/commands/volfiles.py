"""Volfiles on demand: what the SunRPC server hands out for a GETSPEC key.

Volfiles are never stored (etcd keeps the small volume record); they are
generated from it by gd2.volgen and cached per (key, trust, record revision),
so a changed volume gets a fresh volfile and an unchanged one costs a dict
lookup.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import structlog
import trio

from gd2.api.models import Brick, Volume
from gd2.commands import keys
from gd2.errors import GD2Error
from gd2.model.node import LocalNode
from gd2.store import Store
from gd2.volgen import (
    ExtraXlator,
    VolfileKind,
    brick_volfile,
    client_volfile,
    find_brick,
    resolve_key,
    shd_volfile,
)

# (generation, rules): xlators from outside volgen's rules (plugins); the generation changes with them.
ExtraRules = Callable[[], tuple[int, tuple[ExtraXlator, ...]]]

log = structlog.get_logger(__name__)


def _device(path: str) -> int | None:
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def shared_brick_count(volume: Volume, brick: Brick, peer_id: str) -> int:
    """How many of this node's bricks of ``volume`` share ``brick``'s filesystem.

    posix divides the reported free space by it, so `df` on a mount does not
    count one disk several times (glusterd1 computes the same).
    """
    device = _device(brick.path)
    if device is None:
        return 1
    local = [b for b in volume.bricks if b.peer_id == peer_id]
    return max(1, sum(1 for b in local if _device(b.path) == device))


class VolfileService:
    def __init__(self, store: Store, node: LocalNode, workdir: Path) -> None:
        self._store = store
        self._node = node
        self._workdir = workdir
        self._extra: ExtraRules | None = None
        self._cache: dict[tuple[str, bool], tuple[tuple[int, int], str]] = {}

    def extend(self, extra: ExtraRules) -> None:
        """Apply ``extra`` rules too (the plugins'; gd2.plugins.host.PluginHost.volgen_rules)."""
        self._extra = extra

    async def _volume(self, name: str) -> tuple[Volume, int] | None:
        entry = await self._store.get(keys.volume(name))
        if entry is None:
            return None
        return Volume.model_validate(entry.value), entry.mod_revision

    async def volfile(self, key: str, local_peer: bool) -> str | None:
        """The volfile for a GETSPEC key, or None when there is none (ENOENT)."""
        try:
            wanted = resolve_key(key)
        except GD2Error:
            return None
        found = await self._volume(wanted.volume)
        if found is None:
            return None
        volume, revision = found
        trusted = local_peer if wanted.kind is VolfileKind.CLIENT else True
        generation, extra = self._extra() if self._extra is not None else (0, ())
        cached = self._cache.get((key, trusted))
        if cached is not None and cached[0] == (revision, generation):
            return cached[1]
        try:
            if wanted.kind is VolfileKind.CLIENT:
                text = client_volfile(volume, trusted=trusted, extra=extra)
            elif wanted.kind is VolfileKind.SHD:
                text = shd_volfile(volume)
            else:
                brick = find_brick(volume, wanted.brick_id or "")
                if brick is None:
                    return None
                count = await trio.to_thread.run_sync(shared_brick_count, volume, brick, self._node.peer_id)
                text = brick_volfile(volume, brick, workdir=str(self._workdir), shared_brick_count=count,
                                     extra=extra)
        except GD2Error as exc:
            log.info("no volfile for key", key=key, reason=exc.message)
            return None
        self._cache[(key, trusted)] = ((revision, generation), text)
        return text

    async def brick_known(self, path: str) -> bool:
        """Whether ``path`` is a brick of this node in some volume (SIGNIN is refused otherwise)."""
        for entry in await self._store.list_prefix(keys.VOLUMES):
            volume = Volume.model_validate(entry.value)
            if any(b.path == path and b.peer_id == self._node.peer_id for b in volume.bricks):
                return True
        return False

    async def volume_id(self, name: str) -> str | None:
        found = await self._volume(name)
        return found[0].id if found else None
