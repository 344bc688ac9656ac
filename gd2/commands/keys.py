"""Store keys and record kinds (relative to the cluster prefix)."""

from __future__ import annotations

PEERS = "peers/"
ALIVE = "alive/"
VOLUMES = "volumes/"
BRICKS = "bricks/"

KIND_PEER = "peer"
KIND_ALIVE = "alive"
KIND_VOLUME = "volume"
KIND_BRICK = "brick"


def peer(peer_id: str) -> str:
    return PEERS + peer_id


def alive(peer_id: str) -> str:
    return ALIVE + peer_id


def volume(name: str) -> str:
    return VOLUMES + name


def volume_bricks(volume_name: str) -> str:
    """The prefix of the published bricks of one volume (gd2.commands.brick_state)."""
    return f"{BRICKS}{volume_name}/"


def brick(volume_name: str, peer_id: str, brick_id: str) -> str:
    """``bricks/<volume>/<peer-id>/<brick-id>``: where a signed-in brick listens, on its node's lease."""
    return f"{BRICKS}{volume_name}/{peer_id}/{brick_id}"
