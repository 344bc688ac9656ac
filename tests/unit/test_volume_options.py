"""volume set/get/reset against the catalogue and the real xlator option tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from gd2.api.models import Peer, VolumeCreateRequest
from gd2.commands import keys
from gd2.commands.volume_options import OptionService, OptionValidator
from gd2.commands.volumes import VolumeService
from gd2.errors import InvalidRequest, NotFound
from gd2.model.layout import plan_volume
from gd2.model.node import LocalNode
from gd2.testing import FakeStore
from gd2.volgen import client_volfile
from gd2.volgen.options import create_defaults
from gd2.xlators import XlatorTable, load_table

XLATOR_DIR = Path("/usr/lib/x86_64-linux-gnu/glusterfs/10.3/xlator")


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> XlatorTable:
    return load_table(XLATOR_DIR, tmp_path_factory.mktemp("xl") / "cache.json")


class Notifier:
    def __init__(self) -> None:
        self.calls = 0

    async def notify_fetchspec(self) -> None:
        self.calls += 1


async def _service(table: XlatorTable) -> tuple[OptionService, FakeStore, Notifier]:
    store = FakeStore()
    node = LocalNode("p1", "c1", "server1", ("10.0.0.1",))
    peers = [Peer(id="p1", name="server1", addresses=["10.0.0.1"], cluster_id="c1")]
    req = VolumeCreateRequest(name="v", bricks=["10.0.0.1:/b/0", "10.0.0.1:/b/1"], replica=2, force=True)
    ids = iter(f"00000000-0000-0000-0000-{i:012d}" for i in range(100))
    volume = plan_volume(req, peers, [], lambda: next(ids), "now")
    volume = volume.model_copy(update={"options": create_defaults(volume.type)})
    await store.put(keys.volume("v"), keys.KIND_VOLUME, volume.model_dump(mode="json"))
    volumes = VolumeService(store, node, None, None)  # type: ignore[arg-type]
    notifier = Notifier()
    return OptionService(volumes, OptionValidator(table), notifier), store, notifier


async def test_set_changes_the_volfile_and_notifies(table: XlatorTable) -> None:
    service, _, notifier = await _service(table)
    volume = await service.set("v", {"performance.write-behind": "off", "network.ping-timeout": "20"})
    assert volume.options["performance.write-behind"] == "off"
    text = client_volfile(volume)
    assert "performance/write-behind" not in text
    assert "option ping-timeout 20" in text
    assert notifier.calls == 1
    await service.set("v", {"network.ping-timeout": "20"})
    assert notifier.calls == 1, "an unchanged volume must not make every client refetch"


@pytest.mark.parametrize(("options", "message"), [
    ({"performance.write-behid": "off"}, "does not exist; did you mean performance.write-behind"),
    ({"performance.write-behind": "maybe"}, "invalid value 'maybe' for performance.write-behind"),
    ({"network.ping-timeout": "2000"}, "invalid value '2000' for network.ping-timeout"),
    ({"performance.cache-size": "lots"}, "invalid value 'lots' for performance.cache-size"),
    ({"cluster.quorum-type": "most"}, "cluster.quorum-type"),
    ({"auth.allow": "garbage value"}, "invalid value 'garbage value' for auth.allow"),
    ({"auth.allow": "127.0.0.1;10.0.0.1"}, "for auth.allow: must be a comma-separated list"),
    ({"auth.reject": "10.0.0.0/33"}, "invalid value '10.0.0.0/33' for auth.reject"),
    ({"auth.allow": ","}, "auth.allow"),
])
async def test_bad_key_or_value_changes_nothing(table: XlatorTable, options: dict[str, str], message: str) -> None:
    service, store, notifier = await _service(table)
    before = await store.get(keys.volume("v"))
    with pytest.raises(InvalidRequest, match=message):
        await service.set("v", {"performance.read-ahead": "off", **options})
    after = await store.get(keys.volume("v"))
    assert before == after and notifier.calls == 0


async def test_get_and_reset(table: XlatorTable) -> None:
    service, _, _ = await _service(table)
    await service.set("v", {"cluster.eager-lock": "off", "nfs.disable": "off"})
    [eager] = (await service.get("v", "cluster.eager-lock")).options
    assert (eager.value, eager.reconfigured) == ("off", True)
    everything = (await service.get("v", None)).options
    assert len(everything) > 100 and any(o.key == "performance.write-behind" for o in everything)
    volume = await service.reset("v", ["cluster.eager-lock", "nfs.disable"], reset_all=False)
    assert "cluster.eager-lock" not in volume.options
    assert volume.options["nfs.disable"] == "on", "a create default returns to its create value"
    await service.set("v", {"cluster.eager-lock": "off"})
    volume = await service.reset("v", [], reset_all=True)
    assert volume.options == create_defaults(volume.type)
    with pytest.raises(InvalidRequest):
        await service.reset("v", [], reset_all=False)
    with pytest.raises(NotFound):
        await service.get("nope", None)


@pytest.mark.parametrize("with_tables", [True, False])
@pytest.mark.parametrize("value", ["192.168.*.*", "10.0.0.0/8", "*", "host.example.com", "::1",
                                   "127.0.0.1,10.*"])
async def test_address_lists_are_stored_as_given(table: XlatorTable, value: str, with_tables: bool) -> None:
    service, _, _ = await _service(table)
    if not with_tables:  # the xlator tables could not be read: the catalogue's kind still checks
        service = OptionService(service._volumes, OptionValidator(None), Notifier())
        with pytest.raises(InvalidRequest, match=r"auth\.allow"):
            await service.set("v", {"auth.allow": "garbage value"})
    volume = await service.set("v", {"auth.allow": value, "auth.reject": value})
    assert volume.options["auth.allow"] == volume.options["auth.reject"] == value
