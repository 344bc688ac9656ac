"""The portmap registry: entries tied to connections, waiting for sign-in, events."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from gd2.sunrpc import BrickEntry, PortmapChange, PortmapEvent, PortmapRegistry


def test_sign_in_and_queries() -> None:
    registry = PortmapRegistry()
    assert registry.port_of("/b1") is None and registry.pid_of("/b1") is None
    registry.sign_in("/b1", 49152, 10, connection=1)
    registry.sign_in("/b2", 49153, 11, connection=1)
    assert registry.port_of("/b1") == 49152 and registry.pid_of("/b2") == 11
    assert registry.entries() == [BrickEntry("/b1", 49152, 10, 1), BrickEntry("/b2", 49153, 11, 1)]


def test_sign_out_needs_the_same_connection_or_port() -> None:
    registry = PortmapRegistry()
    registry.sign_in("/b1", 49152, 10, connection=1)
    assert not registry.sign_out("/b1", 50000, connection=2)
    assert registry.port_of("/b1") == 49152
    assert registry.sign_out("/b1", 49152, connection=2)  # same port, new connection
    registry.sign_in("/b1", 49152, 10, connection=1)
    assert registry.sign_out("/b1", 0, connection=1)
    assert not registry.sign_out("/b1", 49152, connection=1)


def test_closing_a_connection_drops_only_its_entries() -> None:
    registry = PortmapRegistry()
    registry.sign_in("/b1", 49152, 10, connection=1)
    registry.sign_in("/b2", 49153, 11, connection=2)
    assert registry.drop_connection(1) == [BrickEntry("/b1", 49152, 10, 1)]
    assert registry.port_of("/b1") is None and registry.port_of("/b2") == 49153


def test_a_restarted_brick_survives_its_old_connection_closing() -> None:
    registry = PortmapRegistry()
    registry.sign_in("/b1", 49152, 10, connection=1)
    registry.sign_in("/b1", 49160, 20, connection=2)
    assert registry.drop_connection(1) == []
    assert registry.port_of("/b1") == 49160


def test_listeners_see_every_change_in_order() -> None:
    registry = PortmapRegistry()
    seen: list[PortmapEvent] = []
    stop = registry.listen(seen.append)

    def broken(event: PortmapEvent) -> None:
        raise RuntimeError("listener bug")

    registry.listen(broken)  # logged, and the others still run
    registry.sign_in("/b1", 1, 10, connection=1)
    registry.sign_in("/b1", 2, 20, connection=2)
    registry.sign_out("/b1", 2, connection=2)
    registry.sign_in("/b2", 3, 30, connection=3)
    registry.drop_connection(3)
    stop()
    registry.sign_in("/b3", 4, 40, connection=4)
    assert [(e.change, e.entry.brick, e.entry.port) for e in seen] == [
        (PortmapChange.SIGNED_IN, "/b1", 1),
        (PortmapChange.REPLACED, "/b1", 1),
        (PortmapChange.SIGNED_IN, "/b1", 2),
        (PortmapChange.SIGNED_OUT, "/b1", 2),
        (PortmapChange.SIGNED_IN, "/b2", 3),
        (PortmapChange.DISCONNECTED, "/b2", 3),
    ]
    stop()  # twice is fine


async def test_wait_signed_in() -> None:
    registry = PortmapRegistry()
    registry.sign_in("/ready", 5, 1, connection=1)
    assert await registry.wait_signed_in("/ready") == 5

    got: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _collect(registry, "/b1", got))
        nursery.start_soon(lambda: _collect(registry, "/b1", got))
        await trio.testing.wait_all_tasks_blocked()
        registry.sign_in("/other", 1, 1, connection=1)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        registry.sign_in("/b1", 49152, 7, connection=2)
    assert got == [49152, 49152]


async def _collect(registry: PortmapRegistry, brick: str, got: list[int]) -> None:
    got.append(await registry.wait_signed_in(brick))


async def test_wait_signed_in_is_cancellable_and_cleans_up() -> None:
    registry = PortmapRegistry()
    with trio.move_on_after(0.01):
        await registry.wait_signed_in("/never")
    assert registry._waiters == {}
    with pytest.raises(trio.TooSlowError):
        with trio.fail_after(0.01):
            await registry.wait_signed_in("/never")
