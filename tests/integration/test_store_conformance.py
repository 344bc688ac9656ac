"""One conformance suite for the store: the etcd adapter on a real etcd, and the fake."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gd2.errors import InternalError, Unavailable
from gd2.store import Store
from gd2.store.etcd import EtcdStore
from gd2.testing import FakeStore


@pytest.fixture(params=["etcd", "fake"])
async def store(request: pytest.FixtureRequest, etcd_url: str) -> AsyncIterator[Store]:
    if request.param == "fake":
        yield FakeStore()
        return
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
