"""One conformance suite for the store: the etcd adapter on a real etcd, and the fake."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import trio

from gd2.errors import InternalError, Unavailable
from gd2.store import Store
from gd2.store.etcd import EtcdStore
from gd2.testing import FakeStore


@pytest.fixture(params=["etcd", "etcd-tls", "fake"])
async def store(request: pytest.FixtureRequest, etcd_url: str) -> AsyncIterator[Store]:
    if request.param == "fake":
        yield FakeStore()
        return
    if request.param == "etcd-tls":  # https with a client certificate, as glusterd2 reaches etcd
        etcd = request.getfixturevalue("etcd_tls")  # conftest.TLSEtcd
        real = EtcdStore([etcd.url], f"test/{uuid.uuid4()}", rpc_timeout=5, tls=etcd.client)
    else:
        real = EtcdStore([etcd_url], f"test/{uuid.uuid4()}", rpc_timeout=5)
    try:
        yield real
    finally:
        await real.close()


async def test_put_get_list(store: Store) -> None:
    assert await store.get("volumes/a") is None
    await store.put("volumes/a", "volume", {"name": "a", "n": [1, 2]})
    await store.put("volumes/b", "volume", {"name": "b"})
    await store.put("peers/x", "peer", {"id": "x"})
    entry = await store.get("volumes/a")
    assert entry is not None
    assert (entry.key, entry.kind, entry.schema, entry.value) == ("volumes/a", "volume", 1, {"name": "a", "n": [1, 2]})
    assert [e.key for e in await store.list_prefix("volumes/")] == ["volumes/a", "volumes/b"]
    assert [e.key for e in await store.list_prefix("")] == ["peers/x", "volumes/a", "volumes/b"]


async def test_create_only_once(store: Store) -> None:
    assert await store.create("volumes/v", "volume", {"v": 1}) is True
    assert await store.create("volumes/v", "volume", {"v": 2}) is False
    entry = await store.get("volumes/v")
    assert entry is not None and entry.value == {"v": 1}


async def test_compare_and_swap(store: Store) -> None:
    await store.put("k", "x", 1)
    first = await store.get("k")
    assert first is not None
    assert await store.update("k", "x", 2, first.mod_revision) is True
    assert await store.update("k", "x", 3, first.mod_revision) is False
    second = await store.get("k")
    assert second is not None and second.value == 2
    assert await store.delete("k", mod_revision=first.mod_revision) is False
    assert await store.delete("k", mod_revision=second.mod_revision) is True
    assert await store.get("k") is None
    assert await store.delete("k") is False


async def test_lease_keys_go_with_the_lease(store: Store) -> None:
    lease = await store.grant_lease(30)
    await store.put("alive/a", "alive", {}, lease=lease)
    assert await store.refresh_lease(lease) > 0
    await store.revoke_lease(lease)
    assert await store.get("alive/a") is None
    assert await store.refresh_lease(lease) <= 0


async def test_prefixes_isolate_clusters(etcd_url: str) -> None:
    one = EtcdStore([etcd_url], f"gd2/{uuid.uuid4()}", rpc_timeout=5)
    two = EtcdStore([etcd_url], f"gd2/{uuid.uuid4()}", rpc_timeout=5)
    await one.put("volumes/v", "volume", {})
    assert await two.list_prefix("") == []
    await one.close()
    await two.close()


async def test_foreign_value_is_reported_not_misread(etcd_url: str) -> None:
    import etcd3

    prefix = f"gd2/{uuid.uuid4()}"
    host, port = etcd_url.removeprefix("http://").rsplit(":", 1)
    raw = etcd3.client(host, int(port))
    raw.put(f"{prefix}/volumes/junk", b"not msgpack \xc1")
    raw.close()
    store = EtcdStore([etcd_url], prefix, rpc_timeout=5)
    with pytest.raises(InternalError, match="volumes/junk"):
        await store.get("volumes/junk")
    await store.close()


async def test_unreachable_etcd_is_unavailable() -> None:
    store = EtcdStore(["http://127.0.0.3:1"], "gd2/x", rpc_timeout=0.5)
    with pytest.raises(Unavailable, match="did not answer"):
        await store.get("volumes/v")
    await store.close()


async def test_watch_sees_changes_under_its_prefix_in_order(store: Store) -> None:
    await store.put("events/0", "event", {"n": 0})  # before the watch: not seen
    async with store.watch_prefix("events/") as changes:
        await store.put("events/1", "event", {"n": 1})
        await store.put("other/x", "x", {})
        lease = await store.grant_lease(30)
        await store.put("events/2", "event", {"n": 2}, lease=lease)
        await store.delete("events/1")
        await store.revoke_lease(lease)
        seen = []
        with trio.fail_after(10):
            async for change in changes:
                seen.append(change)
                if len(seen) == 4:
                    break
    assert [(c.key, c.entry is not None) for c in seen] == [
        ("events/1", True), ("events/2", True), ("events/1", False), ("events/2", False)]
    assert [c.revision for c in seen] == sorted(c.revision for c in seen)
    first = seen[0].entry
    assert first is not None and (first.kind, first.value, first.mod_revision) == ("event", {"n": 1}, seen[0].revision)
    entry = await store.get("events/0")
    assert entry is not None and seen[0].revision > entry.mod_revision


async def test_a_closed_watch_hears_nothing_more(store: Store) -> None:
    async with store.watch_prefix("w/") as changes:
        await store.put("w/a", "x", 1)
        with trio.fail_after(10):
            assert (await changes.__anext__()).key == "w/a"
    await store.put("w/b", "x", 2)  # no reader left: must not break or pile up anywhere
    async with store.watch_prefix("w/") as changes:
        await store.put("w/c", "x", 3)
        with trio.fail_after(10):
            assert (await changes.__anext__()).key == "w/c"
