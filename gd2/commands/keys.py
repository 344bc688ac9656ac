"""Store keys and record kinds (relative to the cluster prefix)."""

from __future__ import annotations

PEERS = "peers/"
ALIVE = "alive/"
VOLUMES = "volumes/"

KIND_PEER = "peer"
KIND_ALIVE = "alive"
KIND_VOLUME = "volume"


def peer(peer_id: str) -> str:
    return PEERS + peer_id


def alive(peer_id: str) -> str:
    return ALIVE + peer_id


def volume(name: str) -> str:
    return VOLUMES + name
