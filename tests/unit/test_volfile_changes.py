"""FETCHSPEC for changes made on other nodes (gd2.commands.volfile_changes)."""

from __future__ import annotations

from gd2.commands import keys
from gd2.commands.volfile_changes import VolfileChanges
from gd2.testing import FakeStore


class Notifier:
    def __init__(self) -> None:
        self.calls = 0

    async def notify_fetchspec(self) -> object:
        self.calls += 1
        return None


async def test_an_option_change_elsewhere_is_announced_once() -> None:
    store, notifier = FakeStore(), Notifier()
    record = {"name": "gv0", "options": {"a": "1"}, "bricks": [], "state": "Stopped"}
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, record)
    changes = VolfileChanges(store, notifier)
    assert not await changes.check(), "the first look only learns the state"
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, {**record, "state": "Started"})
    assert not await changes.check(), "a state change does not change volfiles"
    await store.put(keys.volume("gv0"), keys.KIND_VOLUME, {**record, "state": "Started", "options": {"a": "2"}})
    assert await changes.check()
    assert not await changes.check()
    await store.put(keys.volume("gv1"), keys.KIND_VOLUME, {**record, "name": "gv1"})
    assert await changes.check(), "a new volume may have been changed since a client's first fetch"
    assert notifier.calls == 2
