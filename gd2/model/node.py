"""Who this glusterd2 is: its peer id, cluster id and addresses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalNode:
    """This node's identity; read at every start, so kept free of heavy imports."""

    peer_id: str
    cluster_id: str
    name: str
    addresses: tuple[str, ...]
