"""Brick path rules (gd2.model.names) and symlinked brick directories (gd2.brickfs), table-driven."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from gd2 import brickfs
from gd2.errors import InvalidRequest
from gd2.model.names import NAME_MAX, PATH_MAX, split_brick
from gd2.volgen import brick_volfile_id

VOLUME_ID = "trusted.glusterfs.volume-id"


@pytest.mark.parametrize(("spec", "path"), [
    ("h:/b", "/b"),
    ("h:/b/", "/b"),
    ("h:/b///", "/b"),
    ("h://b", "/b"),
    ("h:///b//c", "/b/c"),
    ("h:/./b/./c/.", "/b/c"),
    ("h:/b.d/.hidden/...", "/b.d/.hidden/..."),  # names that only start with dots are names
    ("h:/" + "n" * NAME_MAX, "/" + "n" * NAME_MAX),
])
def test_paths_are_normalised(spec: str, path: str) -> None:
    assert split_brick(spec) == ("h", path)


def test_the_volfile_id_comes_from_the_normalised_path() -> None:
    ids = {brick_volfile_id("v", *split_brick(spec)) for spec in ("h:/b/c", "h://b//c/", "h:/./b/c/.")}
    assert ids == {"v.h.b-c"}


_LONG = "/" + "/".join(["d" * 200] * 21)  # 21 * 201 bytes > PATH_MAX


@pytest.mark.parametrize(("spec", "text"), [
    ("h:/", "root directory"),
    ("h://", "root directory"),
    ("h:///", "root directory"),
    ("h:/.", "root directory"),
    ("h:/./", "root directory"),
    ("h://././/", "root directory"),
    ("h:/..", r"'\.\.'"),
    ("h:/../", r"'\.\.'"),
    ("h:/b/..", r"'\.\.'"),
    ("h:/b/../c", r"'\.\.'"),
    ("h:b", "absolute"),
    ("h:./b", "absolute"),
    ("h:/b\x00c", "control characters"),
    ("h:/b\nc", "control characters"),
    ("h:/b\tc", "control characters"),
    ("h:/b\x7f", "control characters"),
    ("h:/b\x1b[0m", "control characters"),
    ("h:/b c", "spaces"),
    ("h:/" + "n" * (NAME_MAX + 1), f"longer than {NAME_MAX} bytes"),
    ("h:/" + "é" * 128, f"longer than {NAME_MAX} bytes"),  # 256 bytes in UTF-8
    ("h:" + _LONG, f"longer than {PATH_MAX - 1} bytes"),
    ("h\n:/b", "host must not"),
    (":/b", "HOST:PATH"),
    ("h:", "HOST:PATH"),
])
def test_refused_paths_name_the_brick(spec: str, text: str) -> None:
    with pytest.raises(InvalidRequest, match=text) as caught:
        split_brick(spec)
    assert caught.value.fields == {"bricks": spec}
    assert repr(spec) in caught.value.message


def _vid() -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize("where", ["brick", "parent", "ancestor"])
def test_a_brick_through_a_symlink_is_refused_with_the_real_path(tmp_path: Path, where: str) -> None:
    real = tmp_path / "real"
    (real / "sub" / "brick").mkdir(parents=True)
    link = tmp_path / "link"
    if where == "brick":
        link.symlink_to(real / "sub" / "brick")
        path = link
    elif where == "parent":
        link.symlink_to(real / "sub")
        path = link / "brick"
    else:
        link.symlink_to(real)
        path = link / "sub" / "brick" / "new"  # not there yet: mkdir would go through the link
    spec = f"h:{path}"
    for attempt in (lambda: brickfs.check_brick_path(spec, path, force=True),
                    lambda: brickfs.prepare_brick(spec, path, _vid())):
        with pytest.raises(InvalidRequest, match="symbolic link") as caught:
            attempt()
        assert caught.value.fields == {"bricks": spec}
        assert os.path.realpath(path) in caught.value.message
    assert VOLUME_ID not in os.listxattr(real / "sub" / "brick")
    assert not (real / "sub" / "brick" / "new").exists()


def test_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(InvalidRequest, match="symbolic link"):
        brickfs.check_brick_path(f"h:{link}", link, force=True)
    with pytest.raises(InvalidRequest, match="symbolic link"):
        brickfs.prepare_brick(f"h:{link}", link, _vid())
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("spelling", ["/", "//", "///"])
def test_the_root_is_never_prepared_even_when_forced(spelling: str) -> None:
    root = Path("/")
    marks_before, hidden_before = os.listxattr(root), (root / ".glusterfs").exists()
    volume_id = _vid()
    try:
        with pytest.raises(InvalidRequest, match="cannot be a brick"):
            brickfs.check_brick_path(f"h:{spelling}", Path(spelling), force=True)
        with pytest.raises(InvalidRequest, match="cannot be a brick"):
            brickfs.prepare_brick(f"h:{spelling}", Path(spelling), volume_id)
    finally:  # whatever happened, leave the machine's root as it was (only our own traces)
        ours = uuid.UUID(volume_id).bytes
        if VOLUME_ID not in marks_before and VOLUME_ID in os.listxattr(root) \
                and os.getxattr(root, VOLUME_ID) == ours:
            os.removexattr(root, VOLUME_ID)
        if not hidden_before and (root / ".glusterfs").is_dir():
            (root / ".glusterfs").rmdir()
    assert os.listxattr(root) == marks_before
    assert (root / ".glusterfs").exists() == hidden_before


def test_release_follows_an_older_volumes_link_to_its_mark(tmp_path: Path) -> None:
    """A volume made before links were refused has its mark on the target; delete must find it."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    volume_id = _vid()
    os.setxattr(real, VOLUME_ID, uuid.UUID(volume_id).bytes)  # where the old create's setxattr landed
    assert brickfs.release_brick(link, volume_id)
    assert VOLUME_ID not in os.listxattr(real)
    brickfs.mark_brick(link, volume_id)  # the undo of a failed delete puts it back there
    assert os.getxattr(real, VOLUME_ID) == uuid.UUID(volume_id).bytes
    assert brickfs.release_brick(link, volume_id)
    assert VOLUME_ID not in os.listxattr(real)
