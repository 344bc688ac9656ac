"""The services the entry points call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from gd2.commands.brick_state import BrickPublisher
from gd2.commands.hooks import NO_HOOKS, HookPoints
from gd2.commands.peers import PeerService
from gd2.commands.pool import PoolService
from gd2.commands.volfiles import VolfileService
from gd2.commands.volume_options import OptionService, OptionValidator, VolfileNotifier
from gd2.commands.volume_start import VolumeRuntime
from gd2.commands.volumes import VolumeService
from gd2.daemons.base import BrickRegistry, DaemonBackend
from gd2.daemons.layout import NodePaths
from gd2.daemons.supervisor import Supervisor
from gd2.events import EventService
from gd2.model.node import LocalNode
from gd2.store import Store
from gd2.txn import Coordinator, StepRegistry


@dataclass(frozen=True)
class Services:
    node: LocalNode
    store: Store
    peers: PeerService
    volumes: VolumeService
    runtime: VolumeRuntime
    options: OptionService
    volfiles: VolfileService
    pool: PoolService
    events: EventService


def build_services(store: Store, node: LocalNode, *, paths: NodePaths, volfiles: VolfileService,
                   backend: DaemonBackend, registry: BrickRegistry, notifier: VolfileNotifier,
                   validator: OptionValidator, supervisor: Supervisor, coordinator: Coordinator,
                   steps: StepRegistry, peers: PeerService, pool: PoolService, events: EventService,
                   brick_state: BrickPublisher | None = None, hooks: HookPoints = NO_HOOKS) -> Services:
    """Wire the services together (called by the composition root); their transaction steps go into ``steps``."""
    volumes = VolumeService(store, node, peers, coordinator, hooks, events=events.sink)
    runtime = VolumeRuntime(volumes, node, paths, backend, registry, supervisor, coordinator,
                            brick_state.wait_published if brick_state is not None else None, hooks,
                            events=events.sink)
    pool.events = events.sink
    for step in (*volumes.steps(), *runtime.steps()):
        steps.add(step)
    return Services(
        node=node, store=store, peers=peers, volumes=volumes, runtime=runtime,
        options=OptionService(volumes, validator, notifier, hooks, events=events.sink),
        volfiles=volfiles, pool=pool, events=events,
    )
