"""Who this glusterd2 is: its peer id, cluster id and addresses."""

from __future__ import annotations

from dataclasses import dataclass

from gd2.api.models import Peer


@dataclass(frozen=True)
class LocalNode:
    peer_id: str
    cluster_id: str
    name: str
    addresses: tuple[str, ...]

    def as_peer(self, online: bool = True) -> Peer:
        return Peer(id=self.peer_id, name=self.name, addresses=list(self.addresses),
                    cluster_id=self.cluster_id, online=online)
