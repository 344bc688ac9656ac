"""Real GlusterFS under glusterd2: bricks start, FUSE mounts work, files land where the type says.

Each test starts a real glusterd2 (embedded etcd, SunRPC on <address>:24007),
creates a volume through gd2ctl, starts it (real glusterfsd bricks and, for
replicate/disperse, a real self-heal daemon), mounts it with
`mount -t glusterfs`, writes through the mount and checks the brick
directories.  Every mount is unmounted and every daemon stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess, mounted

pytestmark = pytest.mark.integration


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_files(root: Path, count: int, size: int = 64 * 1024) -> dict[str, str]:
    written = {}
    for i in range(count):
        data = os.urandom(size + i)
        (root / f"file{i}").write_bytes(data)
        written[f"file{i}"] = hashlib.sha256(data).hexdigest()
    return written


def _brick_files(brick: Path) -> set[str]:
    return {p.name for p in brick.iterdir() if p.is_file()}


def _start(gd2: DaemonProcess, name: str) -> dict[str, object]:
    gd2.ctl("volume", "start", name, check=True)
    status = json.loads(gd2.ctl("--json", "volume", "status", name, check=True).stdout)
    assert all(b["online"] for b in status["bricks"]), status
    return status


def _finish(gd2: DaemonProcess, name: str, bricks: list[Path]) -> None:
    gd2.ctl("volume", "stop", name, check=True)
    status = json.loads(gd2.ctl("--json", "volume", "status", name, check=True).stdout)
    assert not any(b["online"] for b in status["bricks"])
    gd2.ctl("volume", "delete", name, check=True)


@pytest.fixture
def node(daemon_factory: Callable[..., DaemonProcess]) -> DaemonProcess:
    return daemon_factory()


def _create(gd2: DaemonProcess, name: str, words: list[str], bricks: list[Path]) -> None:
    gd2.ctl("volume", "create", name, *words, *[f"{gd2.address}:{b}" for b in bricks], "force", check=True)


def test_distribute_spreads_files(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / "d0", brick_fs / "d1"]
    _create(node, "dist", [], bricks)
    _start(node, "dist")
    with mounted(node, "dist", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        written = _write_files(mnt, 20)
        on_bricks = [_brick_files(b) for b in bricks]
        assert on_bricks[0].isdisjoint(on_bricks[1])
        assert on_bricks[0] | on_bricks[1] == set(written)
        assert on_bricks[0] and on_bricks[1], "distribute put every file on one brick"
        assert {n: _digest(mnt / n) for n in written} == written
    _finish(node, "dist", bricks)


def test_replicate_keeps_identical_copies(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / "r0", brick_fs / "r1"]
    _create(node, "rep", ["replica", "2"], bricks)
    status = _start(node, "rep")
    assert status["daemons"] and status["daemons"][0]["online"], "self-heal daemon not running"
    with mounted(node, "rep", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        written = _write_files(mnt, 5)
        for brick in bricks:
            assert {n: _digest(brick / n) for n in written} == written
    _finish(node, "rep", bricks)


def test_arbiter_holds_names_not_data(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / "a0", brick_fs / "a1", brick_fs / "a2"]
    _create(node, "arb", ["replica", "3", "arbiter", "1"], bricks)
    _start(node, "arb")
    with mounted(node, "arb", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        written = _write_files(mnt, 3)
        for brick in bricks[:2]:
            assert {n: _digest(brick / n) for n in written} == written
        assert _brick_files(bricks[2]) == set(written)
        assert all((bricks[2] / n).stat().st_size == 0 for n in written)
    _finish(node, "arb", bricks)


def test_disperse_stores_fragments(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / "e0", brick_fs / "e1", brick_fs / "e2"]
    _create(node, "disp", ["disperse", "3", "redundancy", "1"], bricks)
    _start(node, "disp")
    size = 1024 * 1024
    with mounted(node, "disp", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        data = os.urandom(size)
        (mnt / "big").write_bytes(data)
        assert _digest(mnt / "big") == hashlib.sha256(data).hexdigest()
    for brick in bricks:
        fragment = brick / "big"
        # 2 data fragments + 1 redundancy: each brick holds about half the file, never all of it.
        assert size // 2 <= fragment.stat().st_size < size
        assert fragment.read_bytes() not in data
    _finish(node, "disp", bricks)


def test_distributed_replicate(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / f"dr{i}" for i in range(4)]
    _create(node, "drep", ["replica", "2"], bricks)
    _start(node, "drep")
    with mounted(node, "drep", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        written = _write_files(mnt, 20)
        sets = [(_brick_files(bricks[0]), _brick_files(bricks[1])), (_brick_files(bricks[2]), _brick_files(bricks[3]))]
        for left, right in sets:
            assert left == right, "replica pair differs"
        assert sets[0][0].isdisjoint(sets[1][0]) and sets[0][0] | sets[1][0] == set(written)
        assert sets[0][0] and sets[1][0]
        for name, digest in written.items():
            holders = [b for b in bricks if (b / name).exists()]
            assert len(holders) == 2 and all(_digest(b / name) == digest for b in holders)
    _finish(node, "drep", bricks)


def test_self_heal_brings_back_missing_files(node: DaemonProcess, brick_fs: Path, tmp_path: Path) -> None:
    bricks = [brick_fs / "h0", brick_fs / "h1"]
    _create(node, "heal", ["replica", "2"], bricks)
    status = _start(node, "heal")
    victim = next(b for b in status["bricks"] if b["path"] == str(bricks[1]))  # type: ignore[index,union-attr]
    with mounted(node, "heal", tmp_path / "mnt", tmp_path / "mnt.log") as mnt:
        before = _write_files(mnt, 3)
        os.kill(victim["pid"], 9)
        # Write at once: the supervisor restarts the brick after its backoff (0.5 s at least).
        time.sleep(0.1)
        after = {f"late{i}": "" for i in range(5)}
        for name in after:
            data = os.urandom(10_000)
            (mnt / name).write_bytes(data)
            after[name] = hashlib.sha256(data).hexdigest()
        assert not any((bricks[1] / n).exists() for n in after)
        node.ctl("volume", "start", "heal", "force", check=True)
        expected = {**before, **after}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            present = {n for n in expected if (bricks[1] / n).exists()}
            if present == set(expected) and all(_digest(bricks[1] / n) == d for n, d in expected.items()):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"self-heal did not restore {set(expected) - present} on {bricks[1]}")
    _finish(node, "heal", bricks)
