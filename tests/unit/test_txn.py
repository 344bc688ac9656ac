"""The transaction engine: reverse undo, shielded from cancellation, errors kept."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from gd2.txn import Step, Transaction


def _recorder(log: list[str], name: str, fail: bool = False, slow: bool = False) -> Step:
    async def do() -> None:
        log.append(f"do {name}")
        if slow:
            await trio.sleep_forever()
        if fail:
            raise RuntimeError(f"{name} broke")

    async def undo() -> None:
        await trio.sleep(0.01)  # would be cancelled if undo were not shielded
        log.append(f"undo {name}")

    return Step(name, do, undo)


async def test_all_steps_run_in_order() -> None:
    log: list[str] = []
    await Transaction("t", [_recorder(log, "a"), _recorder(log, "b")]).run()
    assert log == ["do a", "do b"]


async def test_failure_undoes_in_reverse_including_the_failed_step() -> None:
    log: list[str] = []
    steps = [_recorder(log, "a"), _recorder(log, "b"), _recorder(log, "c", fail=True), _recorder(log, "d")]
    with pytest.raises(RuntimeError, match="c broke"):
        await Transaction("t", steps).run()
    assert log == ["do a", "do b", "do c", "undo c", "undo b", "undo a"]


async def test_cancellation_still_undoes_everything() -> None:
    log: list[str] = []
    steps = [_recorder(log, "a"), _recorder(log, "b", slow=True)]
    with trio.move_on_after(0.05):
        await Transaction("t", steps).run()
    assert log == ["do a", "do b", "undo b", "undo a"]


async def test_undo_failure_is_a_note_not_a_replacement() -> None:
    async def boom() -> None:
        raise OSError("disk gone")

    async def fail() -> None:
        raise ValueError("original")

    with pytest.raises(ValueError, match="original") as err:
        await Transaction("t", [Step("a", trio.lowlevel.checkpoint, boom), Step("b", fail)]).run()
    assert any("undo of a failed: disk gone" in note for note in err.value.__notes__)


async def test_undo_is_bounded(autojump_clock: trio.testing.MockClock) -> None:
    async def hang() -> None:
        await trio.sleep_forever()

    async def fail() -> None:
        raise ValueError("original")

    with pytest.raises(ValueError) as err:
        await Transaction("t", [Step("a", trio.lowlevel.checkpoint, hang), Step("b", fail)],
                          undo_timeout=5).run()
    assert any("did not finish within 5s" in note for note in err.value.__notes__)
