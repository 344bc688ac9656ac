"""Volume start, stop and status: the bricks and self-heal daemon of this node.

Start brings up every local brick concurrently; one brick that cannot start
(its directory was deleted, say) is reported and the others run, as an admin
would want.  Only when no brick could start is the start undone and refused.
Stop ends every daemon concurrently (glusterd1 stops bricks one by one, ~1 s
each).  Status answers from pidfiles and the portmap registry, never waiting
on an operation in progress.
"""

from __future__ import annotations

from pathlib import Path

import structlog
import trio

from gd2 import brickfs
from gd2.api.models import Brick, Volume, VolumeState
from gd2.api.runtime import BrickStatus, DaemonStatus, VolumeStartResult, VolumeStatus
from gd2.commands import keys
from gd2.commands.volumes import VolumeService
from gd2.daemons.base import BrickRegistry, DaemonBackend, DaemonSpec
from gd2.daemons.layout import NodePaths, brick_spec, shd_spec
from gd2.daemons.ports import allocate_port
from gd2.daemons.process import DaemonFailed
from gd2.errors import BrickError, Conflict, GD2Error
from gd2.model.node import LocalNode
from gd2.volgen import needs_shd

log = structlog.get_logger(__name__)

_PORT_ATTEMPTS = 3


class VolumeRuntime:
    """Starts, stops and reports the daemons of volumes on this node."""

    def __init__(self, volumes: VolumeService, node: LocalNode, paths: NodePaths, backend: DaemonBackend,
                 registry: BrickRegistry, *, stop_grace: float) -> None:
        self._volumes = volumes
        self._node = node
        self._paths = paths
        self._backend = backend
        self._registry = registry
        self._stop_grace = stop_grace
        self._lock = trio.Lock()  # one start/stop at a time on this node

    def _local(self, volume: Volume) -> list[Brick]:
        return [b for b in volume.bricks if b.peer_id == self._node.peer_id]

    def _spec(self, volume: Volume, brick: Brick, port: int = 0) -> DaemonSpec:
        return brick_spec(volume, brick, port, self._paths)

    async def _start_brick(self, volume: Volume, brick: Brick) -> BrickStatus:
        def status(online: bool, port: int | None = None, pid: int | None = None,
                   error: str | None = None) -> BrickStatus:
            return BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id,
                               online=online, port=port, pid=pid, error=error)

        state = await self._backend.state(self._spec(volume, brick))
        if state.running:
            return status(True, self._registry.port_of(brick.path), state.pid)
        problem = await trio.to_thread.run_sync(brickfs.brick_problem, Path(brick.path), volume.id)
        if problem is not None:
            log.warning("brick cannot start", volume=volume.name, brick=brick.name, reason=problem)
            return status(False, error=problem)
        error = "not started"
        for _ in range(_PORT_ATTEMPTS):
            port = allocate_port(brick.host, self._registry.ports_in_use())
            try:
                pid = await self._backend.start(self._spec(volume, brick, port))
            except DaemonFailed as exc:
                error = exc.message
                if "already in use" in error:
                    log.info("brick port taken meanwhile; trying another", brick=brick.name, port=port)
                    continue
                break
            return status(True, port, pid)
        log.warning("brick failed to start", volume=volume.name, brick=brick.name, error=error)
        return status(False, error=error)

    async def _set_state(self, name: str, state: VolumeState) -> Volume:
        for _ in range(20):
            entry = await self._volumes.entry(name)
            volume = Volume.model_validate(entry.value)
            if volume.state is state:
                return volume
            updated = volume.model_copy(update={"state": state})
            if await self._volumes.store.update(keys.volume(name), keys.KIND_VOLUME,
                                                updated.model_dump(mode="json"), entry.mod_revision):
                return updated
        raise Conflict(f"volume {name} keeps changing; try again", {"name": name})

    async def start(self, name: str, *, force: bool = False) -> VolumeStartResult:
        volume = await self._volumes.get(name)
        if volume.state is VolumeState.STARTED and not force:
            raise Conflict(f"volume {name} already started", {"name": name})
        async with self._lock:
            local = self._local(volume)
            results: dict[str, BrickStatus] = {}

            async def start_one(brick: Brick) -> None:
                results[brick.id] = await self._start_brick(volume, brick)

            async with trio.open_nursery() as nursery:
                for brick in local:
                    nursery.start_soon(start_one, brick)
            if local and not any(r.online for r in results.values()):
                raise BrickError(f"volume {name}: no brick could start: " + "; ".join(
                    f"{b.name}: {results[b.id].error}" for b in local), {"name": name})
            if needs_shd(volume):
                await self._start_shd(volume)
            volume = await self._set_state(name, VolumeState.STARTED)
        log.info("volume started", volume=name, online=sum(r.online for r in results.values()),
                 bricks=len(local))
        status = await self.status(name)
        # What status sees now, plus why each brick that failed did not start.
        bricks = [results[b.id] if b.id in results and not b.online and results[b.id].error else b
                  for b in status.bricks]
        return VolumeStartResult(volume=volume.public(), status=status.model_copy(update={"bricks": bricks}))

    async def _start_shd(self, volume: Volume) -> None:
        try:
            await self._backend.start(shd_spec(volume, self._paths))
        except GD2Error as exc:
            # Data is served without it; heals wait.  Reported by status.
            log.error("self-heal daemon failed to start", volume=volume.name, error=exc.message)

    async def stop(self, name: str, *, force: bool = False) -> Volume:
        volume = await self._volumes.get(name)
        if volume.state is not VolumeState.STARTED and not force:
            raise Conflict(f"volume {name} is not started", {"name": name})
        async with self._lock:
            specs = [self._spec(volume, b) for b in self._local(volume)]
            if needs_shd(volume):
                specs.append(shd_spec(volume, self._paths))
            async with trio.open_nursery() as nursery:
                for spec in specs:
                    nursery.start_soon(self._backend.stop, spec, self._stop_grace)
            volume = await self._set_state(name, VolumeState.STOPPED)
        log.info("volume stopped", volume=name)
        return volume

    async def status(self, name: str) -> VolumeStatus:
        volume = await self._volumes.get(name)
        bricks = []
        for brick in volume.bricks:
            if brick.peer_id != self._node.peer_id:
                bricks.append(BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id,
                                          online=False, error="on another peer"))
                continue
            state = await self._backend.state(self._spec(volume, brick))
            port = self._registry.port_of(brick.path) if state.running else None
            bricks.append(BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id,
                                      online=state.running and port is not None, port=port, pid=state.pid))
        daemons = []
        if needs_shd(volume):
            state = await self._backend.state(shd_spec(volume, self._paths))
            daemons.append(DaemonStatus(name="Self-heal Daemon", host=self._paths.address,
                                        online=state.running, pid=state.pid))
        return VolumeStatus(name=volume.name, state=volume.state.value, bricks=bricks, daemons=daemons)
