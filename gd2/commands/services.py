"""The services the entry points call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from gd2.commands.peers import PeerService
from gd2.commands.volumes import VolumeService
from gd2.model.node import LocalNode
from gd2.store import Store


@dataclass(frozen=True)
class Services:
    node: LocalNode
    store: Store
    peers: PeerService
    volumes: VolumeService


def build_services(store: Store, node: LocalNode, *, undo_timeout: float) -> Services:
    """Wire the services together (called by the composition root)."""
    peers = PeerService(store, node)
    return Services(node=node, store=store, peers=peers,
                    volumes=VolumeService(store, node, peers, undo_timeout=undo_timeout))
