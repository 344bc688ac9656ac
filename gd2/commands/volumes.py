"""Volume definitions: create, delete, get, list.

Create and delete are cluster transactions (gd2.txn) of named steps, each
run on the nodes that own bricks (the brick steps) or on the initiator:

    vol-create.CheckBricks    refuse bricks in use / on the root fs (no changes)       brick nodes
    vol-create.PrepareBricks  mkdir + volume-id xattr on each local brick              brick nodes
                              (undo: remove them; after a crash, by their marks)
    vol-create.StoreVolume    one etcd compare-and-swap: the name must be free         initiator

    vol-delete.ReleaseBricks  remove our volume-id xattr from each brick               brick nodes
                              (undo: set it again)
    vol-delete.DeleteVolume   compare-and-swap delete of the record                    initiator

The lock ``volume/<name>`` is held for the whole transaction.  Hook scripts
(gd2.commands.hooks) run around it: pre before, post once it has released its lock.

Reads answer from the store and never wait on a transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import trio

from gd2 import brickfs
from gd2.api.events import EventKind
from gd2.api.models import Brick, Volume, VolumeCreateRequest, VolumeState
from gd2.commands import keys
from gd2.commands.hooks import NO_HOOKS, HookPoints
from gd2.commands.peers import PeerService
from gd2.errors import Conflict, NotFound
from gd2.events import NO_EVENTS, EventSink
from gd2.model.layout import plan_volume
from gd2.model.names import check_volume_name
from gd2.model.node import LocalNode
from gd2.store import Entry, Store
from gd2.txn import Coordinator, StepContext, StepFunctions, TxnStep
from gd2.volgen.options import create_defaults

log = structlog.get_logger(__name__)

PreparedList = list[brickfs.PreparedBrick]  # named here: VolumeService.list shadows the builtin in its body
StrList = list[str]


class VolumeService:
    def __init__(self, store: Store, node: LocalNode, peers: PeerService, coordinator: Coordinator,
                 hooks: HookPoints = NO_HOOKS, events: EventSink = NO_EVENTS) -> None:
        self._store = store
        self._events = events
        self._hooks = hooks
        self._node = node
        self._peers = peers
        self._coordinator = coordinator
        self._bricks_lock = trio.Lock()
        self._prepared: dict[str, PreparedList] = {}  # by txnid, for exact undo
        self._prepared_order: StrList = []

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
        nodes = owners(volume)
        args = {"volume": volume.model_dump(mode="json"), "force": req.force}
        await self._hooks.pre("create", volume.name)
        await self._coordinator.run("vol-create", [
            TxnStep("vol-create.CheckBricks", nodes, args),
            TxnStep("vol-create.PrepareBricks", nodes, args),
            TxnStep("vol-create.StoreVolume", (), args),
        ], locks=[f"volume/{volume.name}"])
        log.info("volume created", volume=volume.name, volume_id=volume.id, type=volume.type.value,
                 bricks=len(volume.bricks))
        self._events.emit(EventKind.VOLUME_CREATE, volume=volume.name,
                          message=f"volume {volume.name} created: {volume.type.value}, {len(volume.bricks)} bricks")
        self._hooks.post("create", volume.name)
        return volume

    async def delete(self, name: str) -> None:
        entry = await self.entry(name)
        volume = Volume.model_validate(entry.value)
        if volume.state is VolumeState.STARTED:
            raise Conflict(f"volume {name} is started; stop it before deleting it", {"name": name})
        args = {"volume": volume.model_dump(mode="json"), "revision": entry.mod_revision}
        await self._hooks.pre("delete", name)
        await self._coordinator.run("vol-delete", [
            TxnStep("vol-delete.ReleaseBricks", owners(volume), args),
            TxnStep("vol-delete.DeleteVolume", (), args),
        ], locks=[f"volume/{name}"])
        log.info("volume deleted", volume=name, volume_id=volume.id)
        self._events.emit(EventKind.VOLUME_DELETE, volume=name, message=f"volume {name} deleted")
        self._hooks.post("delete", name)

    # ---- the steps, on the nodes that own bricks (registered by the composition root) -----------

    def steps(self) -> tuple[StepFunctions, ...]:
        return (
            StepFunctions("vol-create.CheckBricks", self._check_bricks),
            StepFunctions("vol-create.PrepareBricks", self._prepare_bricks, self._unprepare_bricks),
            StepFunctions("vol-create.StoreVolume", self._store_volume, self._unstore_volume),
            StepFunctions("vol-delete.ReleaseBricks", self._release_bricks, self._mark_bricks_again),
            StepFunctions("vol-delete.DeleteVolume", self._delete_volume),
        )

    def _mine(self, ctx: StepContext, args: Any) -> tuple[Volume, tuple[Brick, ...]]:
        volume = Volume.model_validate(args["volume"])
        return volume, tuple(b for b in volume.bricks if b.peer_id == ctx.node_id)

    async def _check_bricks(self, ctx: StepContext, args: Any) -> None:
        _volume, bricks = self._mine(ctx, args)
        for brick in bricks:
            await trio.to_thread.run_sync(
                partial(brickfs.check_brick_path, brick.name, Path(brick.path), force=bool(args["force"])))

    async def _prepare_bricks(self, ctx: StepContext, args: Any) -> None:
        volume, bricks = self._mine(ctx, args)
        prepared = self._prepared.setdefault(ctx.txnid, [])
        # The marks on this node's disks are made one volume at a time.
        async with self._bricks_lock:
            for brick in bricks:
                prepared.append(await trio.to_thread.run_sync(
                    brickfs.prepare_brick, brick.name, Path(brick.path), volume.id))
        self._forget_later(ctx.txnid)

    async def _unprepare_bricks(self, ctx: StepContext, args: Any) -> None:
        volume, bricks = self._mine(ctx, args)
        prepared = self._prepared.pop(ctx.txnid, None)
        if prepared is not None:  # this process prepared them: undo exactly that
            for item in reversed(prepared):
                await trio.to_thread.run_sync(brickfs.unprepare_brick, item)
            return
        for brick in bricks:  # after a crash: undo by the marks on disk
            await trio.to_thread.run_sync(brickfs.unprepare_after_crash, Path(brick.path), volume.id)

    def _forget_later(self, txnid: str) -> None:
        """Records of prepared bricks are only needed while their transaction may still be undone."""
        self._prepared_order.append(txnid)
        while len(self._prepared_order) > 256:
            self._prepared.pop(self._prepared_order.pop(0), None)

    async def _store_volume(self, ctx: StepContext, args: Any) -> None:
        volume = Volume.model_validate(args["volume"])
        if not await self._store.create(keys.volume(volume.name), keys.KIND_VOLUME, volume.model_dump(mode="json")):
            raise Conflict(f"volume {volume.name} already exists", {"name": volume.name})

    async def _unstore_volume(self, ctx: StepContext, args: Any) -> None:
        volume = Volume.model_validate(args["volume"])
        entry = await self._store.get(keys.volume(volume.name))
        if entry is not None and entry.value.get("id") == volume.id:  # ours, not a later volume of that name
            await self._store.delete(keys.volume(volume.name), mod_revision=entry.mod_revision)

    async def _release_bricks(self, ctx: StepContext, args: Any) -> None:
        volume, bricks = self._mine(ctx, args)
        for brick in bricks:
            await trio.to_thread.run_sync(brickfs.release_brick, Path(brick.path), volume.id)

    async def _mark_bricks_again(self, ctx: StepContext, args: Any) -> None:
        volume, bricks = self._mine(ctx, args)
        for brick in bricks:
            with contextlib.suppress(brickfs.BrickGone):
                await trio.to_thread.run_sync(brickfs.mark_brick, Path(brick.path), volume.id)

    async def _delete_volume(self, ctx: StepContext, args: Any) -> None:
        volume = Volume.model_validate(args["volume"])
        if not await self._store.delete(keys.volume(volume.name), mod_revision=int(args["revision"])):
            raise Conflict(f"volume {volume.name} changed while being deleted; try again", {"name": volume.name})


def owners(volume: Volume) -> tuple[str, ...]:
    """The nodes that hold bricks of ``volume``."""
    return tuple(sorted({b.peer_id for b in volume.bricks}))
