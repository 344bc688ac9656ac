"""gd2.rest.gateway: the local socket's app across in-process restarts."""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.testing

from gd2.rest.gateway import Gateway


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


async def _get(gateway: Gateway, path: str = "/v1/peers") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await gateway({"type": "http", "path": path, "headers": []}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_requests_go_to_the_current_app() -> None:
    gateway = Gateway(wait=5)
    gateway.serve(_app)
    assert await _get(gateway) == (200, b"/v1/peers")


async def test_a_request_during_a_restart_waits_for_the_next_app() -> None:
    gateway = Gateway(wait=5)
    gateway.serve(_app)
    gateway.pause()
    answers: list[tuple[int, bytes]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _collect(gateway, answers))
        await trio.sleep(0.5)
        assert answers == []  # still waiting
        gateway.serve(_app)
    assert answers == [(200, b"/v1/peers")]


async def _collect(gateway: Gateway, answers: list[tuple[int, bytes]]) -> None:
    answers.append(await _get(gateway))


async def test_a_restart_that_does_not_come_back_is_a_503_after_the_wait() -> None:
    gateway = Gateway(wait=0.2)
    gateway.pause()  # before the first serve: nothing to forward to
    status, body = await _get(gateway)
    assert status == 503
    error = json.loads(body)["error"]
    assert error["code"] == "unavailable" and "did not come back within 0.2s" in error["message"]


async def test_stopping_answers_the_waiting_requests_at_once() -> None:
    gateway = Gateway(wait=60)
    gateway.serve(_app)
    gateway.pause()
    answers: list[tuple[int, bytes]] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: _collect(gateway, answers))
            await trio.sleep(0.1)
            gateway.stop()
    assert answers[0][0] == 503 and b"stopping" in answers[0][1]
    gateway.pause()  # a stopped gateway stays stopped
    assert (await _get(gateway))[0] == 503


async def test_lifespan_is_answered_by_the_gateway() -> None:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await Gateway(wait=1)({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_drained_waits_for_the_requests_being_answered_but_not_long_lived_ones() -> None:
    release = trio.Event()

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await release.wait()
        await _app(scope, receive, send)

    gateway = Gateway(wait=5, long_lived=("/v1/events/stream",))
    gateway.serve(slow)
    answers: list[tuple[int, bytes]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _collect(gateway, answers))
        nursery.start_soon(lambda: _get(gateway, "/v1/events/stream"))  # never counted
        await trio.testing.wait_all_tasks_blocked()
        assert gateway.in_flight == 1
        gateway.pause()
        with trio.move_on_after(0.2) as waited:
            await gateway.drained()
        assert waited.cancelled_caught  # the request is still being answered
        release.set()
        with trio.fail_after(5):
            await gateway.drained()
        assert gateway.in_flight == 0
        nursery.cancel_scope.cancel()
    assert answers == [(200, b"/v1/peers")]
