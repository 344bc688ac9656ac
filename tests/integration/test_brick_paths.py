"""Brick paths and address-list options through gd2ctl and REST, with real glusterd2, etcd and bricks.

Tests that try the root directory record its xattrs first, prove nothing was written, and remove
only a mark that a failing run of theirs would have left.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess, mounted

pytestmark = pytest.mark.integration

VOLUME_ID = "trusted.glusterfs.volume-id"
ROOT = Path("/")


@contextmanager
def root_untouched() -> Iterator[None]:
    marks, hidden = os.listxattr(ROOT), (ROOT / ".glusterfs").exists()
    try:
        yield
    finally:
        left_mark = VOLUME_ID not in marks and VOLUME_ID in os.listxattr(ROOT)
        left_hidden = not hidden and (ROOT / ".glusterfs").is_dir()
        if left_mark:
            os.removexattr(ROOT, VOLUME_ID)
        if left_hidden:
            (ROOT / ".glusterfs").rmdir()
        assert not left_mark and not left_hidden, "a refused create wrote on the machine's root"


def _volumes(gd2: DaemonProcess) -> list[str]:
    return [v["name"] for v in json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)["volumes"]]


def _marked(path: Path) -> bool:
    return VOLUME_ID in os.listxattr(path, follow_symlinks=False)


@pytest.mark.parametrize("path", ["//", "/", "///", "/./", "/.//.", "/tmp/..", "/tmp/../"])
def test_the_root_is_refused_and_nothing_is_marked(gd2: DaemonProcess, path: str) -> None:
    spec = f"{gd2.address}:{path}"
    with root_untouched():
        refused = gd2.ctl("volume", "create", "rootvol", spec, "force")
        assert refused.returncode != 0
        assert spec in refused.stderr and ("root directory" in refused.stderr or "'..'" in refused.stderr)
        status, reply = gd2.api("POST", "/v1/volumes", {"name": "rootvol", "bricks": [spec], "force": True})
        assert status == 422 and reply["error"]["fields"] == {"bricks": spec}, reply
    assert _volumes(gd2) == []


@pytest.mark.parametrize("bad", ["/b\nc", "/b\x01c", "/" + "n" * 256])
def test_control_characters_and_long_names_are_refused_field_level(gd2: DaemonProcess, brick_fs: Path,
                                                                   bad: str) -> None:
    spec = f"{gd2.address}:{brick_fs}{bad}"
    status, reply = gd2.api("POST", "/v1/volumes", {"name": "v", "bricks": [spec]})
    assert status == 422 and reply["error"]["fields"] == {"bricks": spec}, reply
    assert list(brick_fs.iterdir()) == [] and _volumes(gd2) == []


def test_a_spelled_oddly_path_is_stored_marked_started_and_released_as_one(gd2: DaemonProcess,
                                                                          brick_fs: Path) -> None:
    odd = f"{gd2.address}:/{brick_fs}//vol/./b0/"
    real = brick_fs / "vol" / "b0"
    gd2.ctl("volume", "create", "odd", odd, check=True)
    info = json.loads(gd2.ctl("--json", "volume", "info", "odd", check=True).stdout)
    assert [b["path"] for b in info["bricks"]] == [str(real)]
    assert os.getxattr(real, VOLUME_ID) == uuid.UUID(info["id"]).bytes
    gd2.ctl("volume", "start", "odd", check=True)  # the brick's volfile id comes from the stored path
    status = json.loads(gd2.ctl("--json", "volume", "status", "odd", check=True).stdout)
    assert [b["online"] for b in status["bricks"]] == [True], status
    gd2.ctl("volume", "stop", "odd", check=True)
    again = gd2.ctl("volume", "create", "twice", f"{gd2.address}:{real}")
    assert again.returncode != 0 and "odd" not in _volumes(gd2)[1:]
    gd2.ctl("volume", "delete", "odd", check=True)
    assert not _marked(real) and _volumes(gd2) == []


def test_a_brick_through_a_symlink_is_refused_and_nothing_stays_marked(gd2: DaemonProcess,
                                                                       brick_fs: Path) -> None:
    target = brick_fs / "real"
    target.mkdir()
    link = brick_fs / "link"
    link.symlink_to(target)
    for path, should_exist in ((link, target), (link / "sub", target / "sub")):
        spec = f"{gd2.address}:{path}"
        refused = gd2.ctl("volume", "create", "vialink", spec)
        assert refused.returncode != 0
        assert "symbolic link" in refused.stderr and str(target) in refused.stderr, refused.stderr
        assert not _marked(target) and not _marked(link)
        assert not should_exist.exists() or should_exist == target
    assert _volumes(gd2) == []
    # The real path works, and delete leaves neither the target nor the link marked.
    gd2.ctl("volume", "create", "real", f"{gd2.address}:{target}", check=True)
    assert _marked(target)
    inside = gd2.ctl("volume", "create", "again", f"{gd2.address}:{link}")
    assert inside.returncode != 0, "the link names a brick already in use"
    gd2.ctl("volume", "delete", "real", check=True)
    assert not _marked(target) and not _marked(link)


def _get(gd2: DaemonProcess, volume: str, key: str) -> str:
    reply = json.loads(gd2.ctl("--json", "volume", "get", volume, key, check=True).stdout)
    [option] = reply["options"]
    return str(option["value"])


def _start_and_check(gd2: DaemonProcess, volume: str) -> None:
    gd2.ctl("volume", "start", volume, check=True)
    status = json.loads(gd2.ctl("--json", "volume", "status", volume, check=True).stdout)
    assert all(b["online"] for b in status["bricks"]), status


# Values glusterd1's grammar accepts: each must let a real brick start.
VALID_PATTERNS = ["192.168.*.*,127.0.0.1", "10.0.0.0/8,127.*", "host.example.com,127.*", "::1,127.*"]


def test_auth_allow_garbage_is_refused_and_valid_patterns_start_and_mount(gd2: DaemonProcess, brick_fs: Path,
                                                                          tmp_path: Path) -> None:
    gd2.ctl("volume", "create", "auth", f"{gd2.address}:{brick_fs}/b0", check=True)
    for key, value in (("auth.allow", "garbage value"), ("auth.reject", "10.0.0.0/33"),
                       ("auth.allow", "127.0.0.1;10.0.0.1")):
        before = _get(gd2, "auth", key)
        refused = gd2.ctl("volume", "set", "auth", key, value)
        assert refused.returncode != 0
        assert f"invalid value {value!r} for {key}" in refused.stderr, refused.stderr
        assert _get(gd2, "auth", key) == before
        status, reply = gd2.api("POST", "/v1/volumes/auth/options", {"options": {key: value}})
        assert status == 422 and reply["error"]["fields"]["option"] == key, reply
    for value in VALID_PATTERNS:
        gd2.ctl("volume", "set", "auth", "auth.allow", value, check=True)
        assert _get(gd2, "auth", "auth.allow") == value
        _start_and_check(gd2, "auth")
        gd2.ctl("volume", "stop", "auth", check=True)
    gd2.ctl("volume", "set", "auth", "auth.allow", "127.*", check=True)
    _start_and_check(gd2, "auth")
    with mounted(gd2, "auth", tmp_path / "mnt", tmp_path / "mount.log") as mnt:
        (mnt / "hello").write_bytes(b"allowed")
    assert (brick_fs / "b0" / "hello").read_bytes() == b"allowed"
    gd2.ctl("volume", "stop", "auth", check=True)
    gd2.ctl("volume", "delete", "auth", check=True)
