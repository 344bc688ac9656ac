"""Volume start, stop and status: the bricks and self-heal daemon of this node.

The daemons run under the supervisor tree (gd2.daemons.supervisor): start asks
it to run every local brick (each on a freshly allocated port) and, for
replicate/disperse volumes, a self-heal daemon; it restarts them when they die
and gives up on one that crash-loops.  One brick that cannot start (its
directory was deleted, say) is reported and the others run; only when no brick
could start is the start undone and refused.  Stop releases them all at once
(glusterd1 stops bricks one by one, ~1 s each).  Status answers from the
backend, the portmap registry and the supervisor, never waiting on an
operation in progress.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import trio

from gd2 import brickfs
from gd2.api.events import EventKind
from gd2.api.models import Brick, Volume, VolumeState
from gd2.api.runtime import BrickStatus, DaemonStatus, VolumeStartResult, VolumeStatus
from gd2.commands import brick_state, keys
from gd2.commands.hooks import NO_HOOKS, HookPoints
from gd2.commands.volumes import VolumeService, owners
from gd2.daemons.base import BrickRegistry, DaemonBackend, DaemonSpec
from gd2.daemons.layout import NodePaths, brick_spec, shd_spec
from gd2.daemons.ports import allocate_port
from gd2.daemons.supervisor import Supervisor
from gd2.errors import BrickError, Conflict, GD2Error
from gd2.events import NO_EVENTS, EventSink
from gd2.model.node import LocalNode
from gd2.txn import Coordinator, StepContext, StepFunctions, TxnStep
from gd2.volgen import needs_shd

log = structlog.get_logger(__name__)


class VolumeRuntime:
    """Starts, stops and reports the daemons of volumes on this node."""

    def __init__(self, volumes: VolumeService, node: LocalNode, paths: NodePaths, backend: DaemonBackend,
                 registry: BrickRegistry, supervisor: Supervisor, coordinator: Coordinator,
                 published: Callable[[], Awaitable[None]] | None = None, hooks: HookPoints = NO_HOOKS,
                 events: EventSink = NO_EVENTS) -> None:
        self._volumes = volumes
        self._events = events
        self._hooks = hooks
        self._published = published  # waits until other nodes can see this node's brick sign-ins
        self._coordinator = coordinator
        self._node = node
        self._paths = paths
        self._backend = backend
        self._registry = registry
        self._supervisor = supervisor
        self._lock = trio.Lock()  # one start/stop at a time on this node

    def _local(self, volume: Volume) -> list[Brick]:
        return [b for b in volume.bricks if b.peer_id == self._node.peer_id]

    def _spec(self, volume: Volume, brick: Brick, port: int = 0) -> DaemonSpec:
        return brick_spec(volume, brick, port, self._paths)

    def _fresh_spec(self, volume: Volume, brick: Brick) -> DaemonSpec:
        """The brick's spec with a port that is free right now (used before every (re)start)."""
        return self._spec(volume, brick, allocate_port(brick.host, self._registry.ports_in_use()))

    def _specs(self, volume: Volume) -> list[DaemonSpec]:
        specs = [self._spec(volume, b) for b in self._local(volume)]
        return [*specs, shd_spec(volume, self._paths)] if needs_shd(volume) else specs

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

    async def _bring_up(self, volume: Volume, *, force: bool) -> dict[str, str]:
        """Have the supervisor run the volume's local daemons; returns errors by brick id."""
        errors: dict[str, str] = {}
        specs, factories = [], {}
        for brick in self._local(volume):
            spec = self._spec(volume, brick)
            if not (await self._backend.state(spec)).running:
                problem = await trio.to_thread.run_sync(brickfs.brick_problem, Path(brick.path), volume.id)
                if problem is not None:
                    log.warning("brick cannot start", volume=volume.name, brick=brick.name, reason=problem)
                    errors[brick.id] = problem
                    continue
            specs.append(spec)
            factories[spec.name] = partial(self._fresh_spec, volume, brick)
        outcome = await self._supervisor.ensure(specs, factories=factories, force=force)
        for brick in self._local(volume):
            result = outcome.get(self._spec(volume, brick).name)
            if result is not None and not result.running:
                errors[brick.id] = result.failed or result.last_error or "not started"
        if specs and all(not r.running for r in outcome.values()):
            await self._supervisor.release(specs)
            return errors
        if needs_shd(volume):
            shd = (await self._supervisor.ensure([shd_spec(volume, self._paths)], force=force))
            for result in shd.values():
                if not result.running:
                    # Data is served without it; heals wait.  Shown by status.
                    log.error("self-heal daemon not running", volume=volume.name,
                              error=result.failed or result.last_error)
        return errors

    async def start(self, name: str, *, force: bool = False) -> VolumeStartResult:
        volume = await self._volumes.get(name)
        was_started = volume.state is VolumeState.STARTED
        if was_started and not force:
            raise Conflict(f"volume {name} already started", {"name": name})
        args = {"volume": volume.model_dump(mode="json"), "force": force, "was_started": was_started}
        await self._hooks.pre("start", name)
        results = await self._coordinator.run("vol-start", [
            TxnStep("vol-start.StartBricks", owners(volume), args),
            TxnStep("vol-start.MarkStarted", (), args),
        ], locks=[f"volume/{name}"])
        errors: dict[str, str] = {}
        for node_errors in results[0].values():
            errors.update(node_errors or {})
        volume = await self._volumes.get(name)
        log.info("volume started", volume=name, bricks=len(volume.bricks), failed=len(errors))
        self._events.emit(EventKind.VOLUME_START, volume=name, message=f"volume {name} started" + (
            f"; {len(errors)} of {len(volume.bricks)} bricks did not start" if errors else ""))
        self._hooks.post("start", name)
        status = await self.status(name)
        bricks = [b.model_copy(update={"error": errors[b.id]}) if b.id in errors and not b.online else b
                  for b in status.bricks]
        return VolumeStartResult(volume=volume.public(), status=status.model_copy(update={"bricks": bricks}))

    # ---- the steps (registered by the composition root) -----------------------------------------

    def steps(self) -> tuple[StepFunctions, ...]:
        return (
            StepFunctions("vol-start.StartBricks", self._start_bricks, self._unstart_bricks),
            StepFunctions("vol-start.MarkStarted", self._mark_started, self._unmark_started),
            StepFunctions("vol-stop.StopBricks", self._stop_bricks),
            StepFunctions("vol-stop.MarkStopped", self._mark_stopped),
        )

    async def _start_bricks(self, ctx: StepContext, args: Any) -> dict[str, str]:
        """Start this node's bricks; one that cannot start is reported, none at all fails the step."""
        volume = Volume.model_validate(args["volume"])
        async with self._lock:
            errors = await self._bring_up(volume, force=bool(args["force"]))
        local = self._local(volume)
        if local and len(errors) == len(local):
            raise BrickError(f"volume {volume.name}: no brick could start: " + "; ".join(
                f"{b.name}: {errors[b.id]}" for b in local), {"name": volume.name})
        if self._published is not None:
            with trio.move_on_after(10):  # status on the initiator reads them from the store
                await self._published()
        return errors

    async def _unstart_bricks(self, ctx: StepContext, args: Any) -> None:
        if args.get("was_started"):
            return  # `start force` of a started volume: its bricks were running before
        volume = Volume.model_validate(args["volume"])
        async with self._lock:
            await self._supervisor.release(self._specs(volume))

    async def _mark_started(self, ctx: StepContext, args: Any) -> None:
        await self._set_state(str(args["volume"]["name"]), VolumeState.STARTED)

    async def _unmark_started(self, ctx: StepContext, args: Any) -> None:
        if not args.get("was_started"):
            await self._set_state(str(args["volume"]["name"]), VolumeState.STOPPED)

    async def _stop_bricks(self, ctx: StepContext, args: Any) -> None:
        volume = Volume.model_validate(args["volume"])
        async with self._lock:
            await self._supervisor.release(self._specs(volume))

    async def _mark_stopped(self, ctx: StepContext, args: Any) -> None:
        await self._set_state(str(args["volume"]["name"]), VolumeState.STOPPED)

    async def resume(self) -> bool:
        """After glusterd2 starts: adopt (or restart) the daemons of every started volume.

        False when the store could not be read (the caller tries again later).
        """
        try:
            volumes = await self._volumes.list()
        except GD2Error as exc:
            log.warning("cannot resume volumes yet", error=exc.message)
            return False
        for volume in volumes:
            if volume.state is VolumeState.STARTED and self._local(volume):
                try:
                    async with self._lock:
                        errors = await self._bring_up(volume, force=False)
                except GD2Error as exc:
                    log.error("cannot resume volume", volume=volume.name, error=exc.message)
                    continue
                log.info("volume resumed", volume=volume.name, failed=len(errors))
        return True

    async def keep_resuming(self, interval: float) -> None:
        """Retry :meth:`resume` until it could read the store once."""
        while not await self.resume():  # noqa: ASYNC110 - a retry with a pause, not a wait for an event
            await trio.sleep(interval)

    async def stop(self, name: str, *, force: bool = False) -> Volume:
        volume = await self._volumes.get(name)
        if volume.state is not VolumeState.STARTED and not force:
            raise Conflict(f"volume {name} is not started", {"name": name})
        args = {"volume": volume.model_dump(mode="json")}
        await self._hooks.pre("stop", name)
        await self._coordinator.run("vol-stop", [
            TxnStep("vol-stop.StopBricks", owners(volume), args),
            TxnStep("vol-stop.MarkStopped", (), args),
        ], locks=[f"volume/{name}"])
        log.info("volume stopped", volume=name)
        self._events.emit(EventKind.VOLUME_STOP, volume=name, message=f"volume {name} stopped")
        self._hooks.post("stop", name)
        return await self._volumes.get(name)

    async def status(self, name: str) -> VolumeStatus:
        volume = await self._volumes.get(name)
        published: dict[tuple[str, str], brick_state.PublishedBrick] = {}
        alive: set[str] = set()
        if any(brick.peer_id != self._node.peer_id for brick in volume.bricks):
            # Other nodes' bricks: what those nodes published (on their leases); no lock taken.
            published = await brick_state.volume_bricks(self._volumes.store, volume.name)
            alive = await brick_state.live_peers(self._volumes.store)
        bricks = []
        for brick in volume.bricks:
            if brick.peer_id != self._node.peer_id:
                bricks.append(brick_state.remote_brick_status(volume, brick, published.get((brick.peer_id, brick.id)),
                                                              brick.peer_id in alive))
                continue
            spec = self._spec(volume, brick)
            state = await self._backend.state(spec)
            port = self._registry.port_of(brick.path) if state.running else None
            supervised = self._supervisor.status(spec.name)
            bricks.append(BrickStatus(id=brick.id, host=brick.host, path=brick.path, peer_id=brick.peer_id,
                                      online=state.running and port is not None, port=port, pid=state.pid,
                                      error=supervised.failed))
        daemons = []
        if needs_shd(volume):
            state = await self._backend.state(shd_spec(volume, self._paths))
            daemons.append(DaemonStatus(name="Self-heal Daemon", host=self._paths.address,
                                        online=state.running, pid=state.pid))
        return VolumeStatus(name=volume.name, state=volume.state.value, bricks=bricks, daemons=daemons)
