"""Plan a volume from a create request: counts, type, brick placement.

Pure: it sees the request, the pool's peers and the bricks already in use,
and returns the :class:`Volume` to create or raises InvalidRequest/Conflict.
The rules follow glusterd1 (cli-cmd-parser.c, glusterd-volume-ops.c).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gd2.api.models import Brick, Peer, Volume, VolumeAuth, VolumeCreateRequest, VolumeState, VolumeType
from gd2.errors import Conflict, InvalidRequest
from gd2.model.names import check_volume_name, is_nested, split_brick


def default_redundancy(disperse: int) -> int:
    """glusterd1's choice when only ``disperse N`` is given.

    The largest power-of-two data count that leaves 2R < N, else R = 1.
    """
    data = 1
    while data * 2 < disperse:
        data *= 2
    redundancy = disperse - data
    return redundancy if 2 * redundancy < disperse else 1


def _set_size(req: VolumeCreateRequest, brick_count: int) -> tuple[int, int, int, int]:
    """Return (replica, arbiter, disperse, redundancy) after checking the counts."""
    if (req.replica is not None or req.arbiter is not None) and (
        req.disperse is not None or req.redundancy is not None
    ):
        raise InvalidRequest("replica and disperse cannot be combined", {"replica": "conflicts"})
    if req.arbiter is not None and (req.replica != 3 or req.arbiter != 1):
        raise InvalidRequest(
            "for an arbiter volume, replica count must be 3 and arbiter count must be 1",
            {"arbiter": "must be 1 with replica 3"},
        )
    if req.replica is not None:
        if req.replica < 2:
            raise InvalidRequest("replica count must be at least 2", {"replica": "too small"})
        if brick_count % req.replica:
            raise InvalidRequest(
                f"number of bricks ({brick_count}) is not a multiple of replica count ({req.replica})",
                {"bricks": "count"},
            )
        return req.replica, req.arbiter or 0, 0, 0
    if req.disperse is not None or req.redundancy is not None:
        disperse = req.disperse if req.disperse is not None else brick_count
        if disperse < 3:
            raise InvalidRequest("disperse count must be at least 3", {"disperse": "too small"})
        redundancy = req.redundancy if req.redundancy is not None else default_redundancy(disperse)
        if redundancy < 1:
            raise InvalidRequest("redundancy count must be at least 1", {"redundancy": "too small"})
        if 2 * redundancy >= disperse:
            raise InvalidRequest(
                f"redundancy ({redundancy}) must be less than half the disperse count ({disperse})",
                {"redundancy": "too large"},
            )
        if brick_count % disperse:
            raise InvalidRequest(
                f"number of bricks ({brick_count}) is not a multiple of disperse count ({disperse})",
                {"bricks": "count"},
            )
        return 1, 0, disperse, redundancy
    return 1, 0, 0, 0


def _volume_type(replica: int, disperse: int, sets: int) -> VolumeType:
    if replica > 1:
        return VolumeType.REPLICATE if sets == 1 else VolumeType.DISTRIBUTED_REPLICATE
    if disperse:
        return VolumeType.DISPERSE if sets == 1 else VolumeType.DISTRIBUTED_DISPERSE
    return VolumeType.DISTRIBUTE


def find_peer(host: str, peers: Iterable[Peer]) -> Peer | None:
    """The pool member a brick's host names (by address or by name)."""
    for peer in peers:
        if host in peer.addresses or host == peer.name:
            return peer
    return None


def plan_volume(
    req: VolumeCreateRequest,
    peers: Sequence[Peer],
    used_bricks: Iterable[tuple[str, str]],
    new_id: Callable[[], str],
    created_at: str,
) -> Volume:
    """Check ``req`` and lay the volume out.

    ``used_bricks`` holds (peer_id, path) of every brick of existing volumes.
    """
    check_volume_name(req.name)
    replica, arbiter, disperse, redundancy = _set_size(req, len(req.bricks))
    set_size = replica if replica > 1 else (disperse or 1)
    bricks: list[Brick] = []
    seen: list[tuple[str, str]] = []
    for index, spec in enumerate(req.bricks):
        host, path = split_brick(spec)
        peer = find_peer(host, peers)
        if peer is None:
            raise InvalidRequest(f"host {host!r} of brick {spec!r} is not in the pool", {"bricks": spec})
        for other_peer, other_path in seen:
            if other_peer == peer.id and is_nested(path, other_path):
                what = "is given twice" if path == other_path else f"overlaps brick {other_path}"
                raise InvalidRequest(f"brick {host}:{path} {what}", {"bricks": spec})
        seen.append((peer.id, path))
        is_arbiter = bool(arbiter) and index % set_size == set_size - 1
        bricks.append(Brick(id=new_id(), peer_id=peer.id, host=host, path=path, arbiter=is_arbiter))
    for used_peer, stored_path in used_bricks:
        # Records written before paths were normalised may hold "//b" or "/b/": compare canonically.
        used_path = "/" + "/".join(part for part in stored_path.split("/") if part not in ("", "."))
        for brick in bricks:
            if brick.peer_id == used_peer and is_nested(brick.path, used_path):
                raise Conflict(
                    f"brick {brick.name} overlaps {used_path}, a brick of another volume",
                    {"bricks": brick.name},
                )
    if set_size > 1 and not req.force:
        for start in range(0, len(bricks), set_size):
            members = [b.peer_id for b in bricks[start:start + set_size]]
            if len(set(members)) < len(members):
                kind = "replicate" if replica > 1 else "disperse"
                raise InvalidRequest(
                    f"multiple bricks of a {kind} set are on the same server; this is not "
                    "recommended (a server failure loses the set): use 'force' to override",
                    {"bricks": "same server"},
                )
    sets = len(bricks) // set_size
    return Volume(
        id=new_id(),
        name=req.name,
        type=_volume_type(replica, disperse, sets),
        state=VolumeState.CREATED,
        replica_count=replica,
        arbiter_count=arbiter,
        disperse_count=disperse,
        redundancy_count=redundancy,
        distribute_count=sets,
        bricks=bricks,
        created_at=created_at,
        auth=VolumeAuth(username=new_id(), password=new_id()),
    )
