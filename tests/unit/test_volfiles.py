"""Volfiles served by key, generated from the store's record and cached by its revision."""

from __future__ import annotations

from pathlib import Path

from gd2.api.models import Peer, Volume, VolumeCreateRequest
from gd2.commands import keys
from gd2.commands.volfiles import VolfileService
from gd2.model.layout import plan_volume
from gd2.model.node import LocalNode
from gd2.testing import FakeStore

NODE = LocalNode("p1", "c1", "server1", ("10.0.0.1",))


async def _setup() -> tuple[VolfileService, FakeStore, Volume]:
    store = FakeStore()
    peers = [Peer(id="p1", name="server1", addresses=["10.0.0.1"], cluster_id="c1")]
    req = VolumeCreateRequest(name="gv0", bricks=["10.0.0.1:/data/b1", "10.0.0.1:/data/b2"], replica=2, force=True)
    ids = iter(f"00000000-0000-0000-0000-{i:012d}" for i in range(100))
    volume = plan_volume(req, peers, [], lambda: next(ids), "now")
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, volume.model_dump(mode="json"))
    return VolfileService(store, NODE, Path("/var/lib/glusterd2")), store, volume


async def test_keys_clients_ask_for() -> None:
    service, _, volume = await _setup()
    for key in ("gv0", "/gv0", "gv0.tcp", "/gv0.tcp"):
        text = await service.volfile(key, local_peer=False)
        assert text is not None and "volume gv0-client-0" in text and "password" not in text
    trusted = await service.volfile("gv0", local_peer=True)
    assert trusted is not None and f"option password {volume.auth.password}" in trusted
    shd = await service.volfile("shd/gv0", local_peer=False)
    assert shd is not None and "iam-self-heal-daemon yes" in shd
    brick = await service.volfile("gv0.10.0.0.1.data-b1", local_peer=False)
    assert brick is not None and "volume /data/b1" in brick and "protocol/server" in brick
    assert await service.volume_id("gv0") == volume.id


async def test_unknown_keys_are_none() -> None:
    service, _, _ = await _setup()
    for key in ("nope", "/nope", "shd/nope", "gv0.10.0.0.1.data-b9", "gluster/glustershd", "", "../etc"):
        assert await service.volfile(key, local_peer=True) is None, key
    assert await service.volume_id("nope") is None


async def test_a_changed_record_gives_a_fresh_volfile() -> None:
    service, store, volume = await _setup()
    first = await service.volfile("gv0", local_peer=False)
    assert first is not None and "write-behind" in first
    changed = volume.model_copy(update={"options": {"performance.write-behind": "off"}})
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, changed.model_dump(mode="json"))
    second = await service.volfile("gv0", local_peer=False)
    assert second is not None and "write-behind" not in second
