"""Volume layout rules (pure), as glusterd1 applies them."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gd2.api.models import Peer, VolumeCreateRequest, VolumeType
from gd2.errors import Conflict, GD2Error, InvalidRequest
from gd2.model.layout import default_redundancy, plan_volume

PEERS = [
    Peer(id="p1", name="server1", addresses=["10.0.0.1"], cluster_id="c"),
    Peer(id="p2", name="server2", addresses=["10.0.0.2"], cluster_id="c"),
    Peer(id="p3", name="server3", addresses=["10.0.0.3"], cluster_id="c"),
]


def _plan(used: list[tuple[str, str]] | None = None, **kwargs: Any) -> Any:
    counter = itertools.count()
    return plan_volume(VolumeCreateRequest(**kwargs), PEERS, used or [], lambda: f"id{next(counter)}", "now")


def _bricks(n: int, hosts: int = 3) -> list[str]:
    return [f"10.0.0.{i % hosts + 1}:/b/{i}" for i in range(n)]


@pytest.mark.parametrize(("kwargs", "vtype", "sets"), [
    ({"bricks": _bricks(1)}, VolumeType.DISTRIBUTE, 1),
    ({"bricks": _bricks(4)}, VolumeType.DISTRIBUTE, 4),
    ({"bricks": _bricks(3), "replica": 3}, VolumeType.REPLICATE, 1),
    ({"bricks": _bricks(6), "replica": 3}, VolumeType.DISTRIBUTED_REPLICATE, 2),
    ({"bricks": _bricks(3), "replica": 3, "arbiter": 1}, VolumeType.REPLICATE, 1),
    ({"bricks": _bricks(3), "disperse": 3}, VolumeType.DISPERSE, 1),
    ({"bricks": _bricks(6), "disperse": 3, "redundancy": 1}, VolumeType.DISTRIBUTED_DISPERSE, 2),
    ({"bricks": _bricks(3), "redundancy": 1}, VolumeType.DISPERSE, 1),
])
def test_types(kwargs: dict[str, Any], vtype: VolumeType, sets: int) -> None:
    volume = _plan(name="v", **kwargs)
    assert volume.type is vtype
    assert volume.distribute_count == sets
    assert [b.peer_id for b in volume.bricks] == [f"p{i % 3 + 1}" for i in range(len(kwargs["bricks"]))]


def test_arbiter_is_the_last_brick_of_each_set() -> None:
    volume = _plan(name="v", bricks=_bricks(6), replica=3, arbiter=1)
    assert [b.arbiter for b in volume.bricks] == [False, False, True] * 2


def test_default_redundancy() -> None:
    assert [default_redundancy(n) for n in (3, 4, 5, 6, 10, 12)] == [1, 1, 1, 2, 2, 4]
    for n in range(3, 40):
        assert 2 * default_redundancy(n) < n


@pytest.mark.parametrize(("kwargs", "error", "text"), [
    ({"name": "bad/name"}, InvalidRequest, "invalid volume name"),
    ({"name": "-dash"}, InvalidRequest, "invalid volume name"),
    ({"name": "all"}, InvalidRequest, "reserved"),
    ({"name": "x" * 65}, InvalidRequest, "invalid volume name"),
    ({"bricks": _bricks(3), "replica": 2}, InvalidRequest, "not a multiple of replica count"),
    ({"bricks": _bricks(2), "replica": 1}, InvalidRequest, "at least 2"),
    ({"bricks": _bricks(4), "disperse": 4, "redundancy": 2}, InvalidRequest, "less than half"),
    ({"bricks": _bricks(2), "disperse": 2}, InvalidRequest, "at least 3"),
    ({"bricks": _bricks(4), "disperse": 3}, InvalidRequest, "not a multiple of disperse count"),
    ({"bricks": _bricks(3), "replica": 3, "disperse": 3}, InvalidRequest, "cannot be combined"),
    ({"bricks": _bricks(2), "replica": 2, "arbiter": 1}, InvalidRequest, "replica count must be 3"),
    ({"bricks": _bricks(2), "arbiter": 1}, InvalidRequest, "replica count must be 3"),
    ({"bricks": ["10.0.0.1:/b", "10.0.0.1:/b"]}, InvalidRequest, "given twice"),
    ({"bricks": ["10.0.0.1:/b", "10.0.0.1:/b/c"]}, InvalidRequest, "overlaps"),
    ({"bricks": ["10.0.0.1:b"]}, InvalidRequest, "absolute"),
    ({"bricks": ["10.0.0.1:/b/../c"]}, InvalidRequest, ".."),
    ({"bricks": ["10.0.0.1:/"]}, InvalidRequest, "root directory"),
    ({"bricks": ["nohost"]}, InvalidRequest, "HOST:PATH"),
    ({"bricks": ["10.9.9.9:/b"]}, InvalidRequest, "not in the pool"),
    ({"bricks": ["10.0.0.1:/b", "10.0.0.1:/c"], "replica": 2}, InvalidRequest, "same server"),
])
def test_refusals(kwargs: dict[str, Any], error: type[GD2Error], text: str) -> None:
    args = {"name": "v", "bricks": _bricks(1), **kwargs}
    with pytest.raises(error, match=text):
        _plan(**args)


def test_same_server_allowed_with_force_and_different_servers_are_fine() -> None:
    assert _plan(name="v", bricks=["10.0.0.1:/b", "10.0.0.1:/c"], replica=2, force=True).replica_count == 2
    assert _plan(name="v", bricks=["10.0.0.1:/b", "10.0.0.2:/b"], replica=2).replica_count == 2


def test_same_path_on_different_servers_is_not_nesting() -> None:
    assert len(_plan(name="v", bricks=["10.0.0.1:/b", "10.0.0.2:/b"]).bricks) == 2


def test_bricks_of_other_volumes() -> None:
    with pytest.raises(Conflict, match="another volume"):
        _plan(name="v", bricks=["10.0.0.1:/data/b1/sub"], used=[("p1", "/data/b1")])
    with pytest.raises(Conflict):
        _plan(name="v", bricks=["10.0.0.1:/data"], used=[("p1", "/data/b1")])
    assert _plan(name="v", bricks=["10.0.0.1:/data/b10"], used=[("p1", "/data/b1")])
    assert _plan(name="v", bricks=["10.0.0.2:/data/b1"], used=[("p1", "/data/b1")])


def test_host_by_name() -> None:
    assert _plan(name="v", bricks=["server2:/b"]).bricks[0].peer_id == "p2"


def test_bricks_of_older_records_are_compared_canonically() -> None:
    for stored in ("//b", "/b/", "/./b//"):
        with pytest.raises(Conflict, match="overlaps /b"):
            _plan(name="v", bricks=["10.0.0.1:/b/inner"], used=[("p1", stored)])
