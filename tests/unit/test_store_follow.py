"""gd2.store.follow: react to the changes under a prefix, and catch up after a broken watch."""

from __future__ import annotations

import trio
import trio.testing

from gd2.store.follow import follow
from gd2.testing import FakeStore


async def test_reacts_when_open_on_each_change_and_again_after_a_break() -> None:
    store = FakeStore()
    seen: list[list[str]] = []

    async def react() -> None:
        seen.append(sorted(e.key for e in await store.list_prefix("volumes/")))

    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: follow(store, "volumes/", react, retry=0.05,
                                                       task_status=task_status))
        assert seen == [[]]
        await store.put("volumes/a", "volume", {})
        await store.put("other/x", "thing", {})  # not under the prefix: no reaction
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [[], ["volumes/a"]]
        store.break_watches()
        await trio.sleep(0.2)  # reopened after retry: one more look catches up
        assert seen[-1] == ["volumes/a"] and len(seen) == 3
        await store.put("volumes/b", "volume", {})
        await trio.testing.wait_all_tasks_blocked()
        assert seen[-1] == ["volumes/a", "volumes/b"] and len(seen) == 4
        nursery.cancel_scope.cancel()
