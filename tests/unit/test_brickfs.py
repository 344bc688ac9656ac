"""Brick directories: marks, refusals and exact undo (real xattrs, as root)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from gd2 import brickfs
from gd2.errors import Conflict, InvalidRequest

VOL = str(uuid.uuid4())


def test_prepare_creates_marks_and_undo_removes_only_what_it_made(tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    prepared = brickfs.prepare_brick("h:/x", tmp_path / "exists" / "a" / "b", VOL)
    assert prepared.created_from == tmp_path / "exists" / "a"
    assert os.getxattr(tmp_path / "exists" / "a" / "b", brickfs.VOLUME_ID_XATTR) == uuid.UUID(VOL).bytes
    assert (tmp_path / "exists" / "a" / "b" / ".glusterfs").is_dir()
    brickfs.unprepare_brick(prepared)
    assert not (tmp_path / "exists" / "a").exists()
    assert (tmp_path / "exists").exists()


def test_undo_keeps_a_directory_someone_wrote_into(tmp_path: Path) -> None:
    prepared = brickfs.prepare_brick("h:/x", tmp_path / "b", VOL)
    (tmp_path / "b" / "data").write_text("x")
    brickfs.unprepare_brick(prepared)
    assert (tmp_path / "b" / "data").exists()
    assert not (tmp_path / "b" / ".glusterfs").exists()
    assert brickfs.VOLUME_ID_XATTR not in os.listxattr(tmp_path / "b")


def test_second_claim_fails_and_keeps_the_first(tmp_path: Path) -> None:
    brickfs.prepare_brick("h:/x", tmp_path / "b", VOL)
    with pytest.raises(Conflict, match="already part of a volume"):
        brickfs.prepare_brick("h:/x", tmp_path / "b", str(uuid.uuid4()))
    assert os.getxattr(tmp_path / "b", brickfs.VOLUME_ID_XATTR) == uuid.UUID(VOL).bytes


def test_release_only_removes_its_own_mark(tmp_path: Path) -> None:
    brickfs.prepare_brick("h:/x", tmp_path / "b", VOL)
    assert brickfs.release_brick(tmp_path / "b", str(uuid.uuid4())) is False
    assert brickfs.release_brick(tmp_path / "b", VOL) is True
    assert brickfs.VOLUME_ID_XATTR not in os.listxattr(tmp_path / "b")


@pytest.mark.parametrize("xattr", ["trusted.glusterfs.volume-id", "trusted.gfid"])
def test_check_refuses_paths_in_or_under_a_marked_directory(tmp_path: Path, xattr: str) -> None:
    (tmp_path / "old").mkdir()
    os.setxattr(tmp_path / "old", xattr, os.urandom(16))
    for path in (tmp_path / "old", tmp_path / "old" / "new" / "deeper"):
        with pytest.raises(Conflict, match="already part of a volume"):
            brickfs.check_brick_path("h:/x", path, force=True)


def test_check_root_filesystem_needs_force(tmp_path: Path) -> None:
    assert os.stat(tmp_path).st_dev == os.stat("/").st_dev, "this test expects tmp on the root fs"
    with pytest.raises(InvalidRequest, match="root filesystem"):
        brickfs.check_brick_path("h:/x", tmp_path / "b", force=False)
    brickfs.check_brick_path("h:/x", tmp_path / "b", force=True)


def test_check_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(InvalidRequest, match="not a directory"):
        brickfs.check_brick_path("h:/x", tmp_path / "f", force=True)
