"""Volume definitions: create, delete, get, list.

Create and delete are transactions (gd2.txn) of named steps:

    vol-create.CheckBricks    refuse bricks in use / on the root fs (no changes)
    vol-create.PrepareBricks  mkdir + volume-id xattr on each local brick   (undo: remove them)
    vol-create.StoreVolume    one etcd compare-and-swap: the name must be free

    vol-delete.ReleaseBricks  remove our volume-id xattr from each brick    (undo: set it again)
    vol-delete.DeleteVolume   compare-and-swap delete of the record

Reads answer from the store and never wait on a transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import structlog
import trio

from gd2 import brickfs
from gd2.api.models import Volume, VolumeCreateRequest, VolumeState
from gd2.commands import keys
from gd2.commands.peers import PeerService
from gd2.errors import Conflict, InvalidRequest, NotFound
from gd2.model.layout import plan_volume
from gd2.model.names import check_volume_name
from gd2.model.node import LocalNode
from gd2.store import Entry, Store
from gd2.txn import Step, Transaction
from gd2.volgen.options import create_defaults

log = structlog.get_logger(__name__)


class VolumeService:
    def __init__(self, store: Store, node: LocalNode, peers: PeerService, *, undo_timeout: float) -> None:
        self._store = store
        self._node = node
        self._peers = peers
        self._undo_timeout = undo_timeout
        # Brick checks and marks on this node's disks happen one volume at a
        # time, so two creates can never both pass the check for one directory.
        self._bricks_lock = trio.Lock()

    @property
    def store(self) -> Store:
        return self._store

    async def entry(self, name: str) -> Entry:
        check_volume_name(name)
        entry = await self._store.get(keys.volume(name))
        if entry is None:
            raise NotFound(f"volume {name} does not exist", {"name": name})
        return entry

    async def get(self, name: str) -> Volume:
        return Volume.model_validate((await self.entry(name)).value)

    async def list(self) -> list[Volume]:
        entries = await self._store.list_prefix(keys.VOLUMES)
        return sorted((Volume.model_validate(e.value) for e in entries), key=lambda v: v.name)

    async def create(self, req: VolumeCreateRequest) -> Volume:
        existing = await self.list()
        if any(v.name == req.name for v in existing):
            raise Conflict(f"volume {req.name} already exists", {"name": req.name})
        used = [(b.peer_id, b.path) for v in existing for b in v.bricks]
        volume = plan_volume(
            req, await self._peers.list(), used,
            new_id=lambda: str(uuid.uuid4()),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        volume = volume.model_copy(update={"options": create_defaults(volume.type)})
        remote = [b.name for b in volume.bricks if b.peer_id != self._node.peer_id]
        if remote:
            raise InvalidRequest(f"bricks on other peers are not supported yet: {', '.join(remote)}")
        prepared: list[brickfs.PreparedBrick] = []

        async def check_bricks() -> None:
            for brick in volume.bricks:
                await trio.to_thread.run_sync(
                    partial(brickfs.check_brick_path, brick.name, Path(brick.path), force=req.force))

        async def prepare_bricks() -> None:
            for brick in volume.bricks:
                prepared.append(await trio.to_thread.run_sync(
                    brickfs.prepare_brick, brick.name, Path(brick.path), volume.id))

        async def unprepare_bricks() -> None:
            for item in reversed(prepared):
                await trio.to_thread.run_sync(brickfs.unprepare_brick, item)

        async def store_volume() -> None:
            if not await self._store.create(keys.volume(volume.name), keys.KIND_VOLUME,
                                            volume.model_dump(mode="json")):
                raise Conflict(f"volume {volume.name} already exists", {"name": volume.name})

        async with self._bricks_lock:
            await Transaction("vol-create", [
                Step("vol-create.CheckBricks", check_bricks),
                Step("vol-create.PrepareBricks", prepare_bricks, unprepare_bricks),
                Step("vol-create.StoreVolume", store_volume),
            ], undo_timeout=self._undo_timeout).run()
        log.info("volume created", volume=volume.name, volume_id=volume.id, type=volume.type.value,
                 bricks=len(volume.bricks))
        return volume

    async def delete(self, name: str) -> None:
        entry = await self.entry(name)
        volume = Volume.model_validate(entry.value)
        if volume.state is VolumeState.STARTED:
            raise Conflict(f"volume {name} is started; stop it before deleting it", {"name": name})
        released: list[Path] = []

        async def release_bricks() -> None:
            for brick in volume.bricks:
                if brick.peer_id == self._node.peer_id:
                    path = Path(brick.path)
                    if await trio.to_thread.run_sync(brickfs.release_brick, path, volume.id):
                        released.append(path)

        async def mark_bricks_again() -> None:
            for path in reversed(released):
                await trio.to_thread.run_sync(brickfs.mark_brick, path, volume.id)

        async def delete_volume() -> None:
            if not await self._store.delete(keys.volume(name), mod_revision=entry.mod_revision):
                raise Conflict(f"volume {name} changed while being deleted; try again", {"name": name})

        async with self._bricks_lock:
            await Transaction("vol-delete", [
                Step("vol-delete.ReleaseBricks", release_bricks, mark_bricks_again),
                Step("vol-delete.DeleteVolume", delete_volume),
            ], undo_timeout=self._undo_timeout).run()
        log.info("volume deleted", volume=name, volume_id=volume.id)
