"""The services the entry points call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from gd2.commands.peers import PeerService
from gd2.commands.volfiles import VolfileService
from gd2.commands.volume_options import OptionService, OptionValidator, VolfileNotifier
from gd2.commands.volume_start import VolumeRuntime
from gd2.commands.volumes import VolumeService
from gd2.daemons.base import BrickRegistry, DaemonBackend
from gd2.daemons.layout import NodePaths
from gd2.daemons.supervisor import Supervisor
from gd2.model.node import LocalNode
from gd2.store import Store


@dataclass(frozen=True)
class Services:
    node: LocalNode
    store: Store
    peers: PeerService
    volumes: VolumeService
    runtime: VolumeRuntime
    options: OptionService
    volfiles: VolfileService


def build_services(store: Store, node: LocalNode, *, undo_timeout: float, paths: NodePaths,
                   volfiles: VolfileService, backend: DaemonBackend, registry: BrickRegistry,
                   notifier: VolfileNotifier, validator: OptionValidator, supervisor: Supervisor) -> Services:
    """Wire the services together (called by the composition root)."""
    peers = PeerService(store, node)
    volumes = VolumeService(store, node, peers, undo_timeout=undo_timeout)
    return Services(
        node=node, store=store, peers=peers, volumes=volumes,
        runtime=VolumeRuntime(volumes, node, paths, backend, registry, supervisor),
        options=OptionService(volumes, validator, notifier),
        volfiles=volfiles,
    )
