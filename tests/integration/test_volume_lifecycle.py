"""Volumes of every type through gd2ctl against a real daemon and its real etcd."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from gd2.testing import DaemonProcess

VOLUME_ID = "trusted.glusterfs.volume-id"

# (name, gd2ctl create words, bricks, expected type, counts, "Number of Bricks" line)
LAYOUTS = [
    ("dist", [], 2, "Distribute", {"distribute_count": 2}, "Number of Bricks: 2"),
    ("rep", ["replica", "2"], 2, "Replicate", {"replica_count": 2}, "Number of Bricks: 1 x 2 = 2"),
    ("arb", ["replica", "3", "arbiter", "1"], 3, "Replicate", {"replica_count": 3, "arbiter_count": 1},
     "Number of Bricks: 1 x (2 + 1) = 3"),
    ("disp", ["disperse", "3", "redundancy", "1"], 3, "Disperse",
     {"disperse_count": 3, "redundancy_count": 1}, "Number of Bricks: 1 x (2 + 1) = 3"),
    ("drep", ["replica", "2"], 4, "Distributed-Replicate", {"replica_count": 2, "distribute_count": 2},
     "Number of Bricks: 2 x 2 = 4"),
    ("ddisp", ["disperse", "3"], 6, "Distributed-Disperse", {"disperse_count": 3, "distribute_count": 2},
     "Number of Bricks: 2 x (2 + 1) = 6"),
]


def _bricks(gd2: DaemonProcess, root: Path, name: str, count: int) -> list[str]:
    return [f"{gd2.address}:{root}/{name}/b{i}" for i in range(count)]


def test_every_type_created_survives_restart_and_is_deleted(gd2: DaemonProcess, brick_fs: Path) -> None:
    created: dict[str, list[str]] = {}
    for name, words, count, vtype, counts, bricks_line in LAYOUTS:
        bricks = _bricks(gd2, brick_fs, name, count)
        result = gd2.ctl("volume", "create", name, *words, *bricks, "force", check=True)
        assert f"volume create: {name}: success" in result.stdout
        info = json.loads(gd2.ctl("--json", "volume", "info", name, check=True).stdout)
        assert info["type"] == vtype and info["state"] == "Created"
        for key, value in counts.items():
            assert info[key] == value, (name, key)
        assert [f"{b['host']}:{b['path']}" for b in info["bricks"]] == bricks
        text = gd2.ctl("volume", "info", name, check=True).stdout
        assert f"Volume Name: {name}" in text and f"Type: {vtype}" in text and bricks_line in text
        for brick in bricks:
            path = brick.split(":", 1)[1]
            assert os.getxattr(path, VOLUME_ID) == uuid.UUID(info["id"]).bytes
        created[name] = bricks
    arbiter = json.loads(gd2.ctl("--json", "volume", "info", "arb", check=True).stdout)
    assert [b["arbiter"] for b in arbiter["bricks"]] == [False, False, True]

    before = json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)
    assert gd2.stop() == 0
    gd2.start()
    after = json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)
    assert after == before
    assert sorted(gd2.ctl("volume", "list", check=True).stdout.split()) == sorted(created)

    for name, bricks in created.items():
        assert gd2.ctl("volume", "delete", name, check=True).returncode == 0
        for brick in bricks:
            path = brick.split(":", 1)[1]
            assert VOLUME_ID not in os.listxattr(path), f"{path} still marked after delete"
    assert json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)["volumes"] == []
    missing = gd2.ctl("volume", "info", "dist")
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_separate_filesystem_needs_no_force_but_root_does(gd2: DaemonProcess, brick_fs: Path,
                                                          tmp_path: Path) -> None:
    ok = gd2.ctl("volume", "create", "onfs", f"{gd2.address}:{brick_fs}/a")
    assert ok.returncode == 0, ok.stderr
    refused = gd2.ctl("volume", "create", "onroot", f"{gd2.address}:{tmp_path}/rootbrick")
    assert refused.returncode != 0
    assert "root filesystem" in refused.stderr and "force" in refused.stderr
    assert not (tmp_path / "rootbrick").exists(), "a refused create must not leave its directory"
    assert gd2.ctl("volume", "create", "onroot", f"{gd2.address}:{tmp_path}/rootbrick", "force").returncode == 0


def test_peer_list_shows_this_node(gd2: DaemonProcess) -> None:
    peers = json.loads(gd2.ctl("--json", "peer", "list", check=True).stdout)["peers"]
    assert len(peers) == 1
    assert peers[0]["addresses"] == [gd2.address] and peers[0]["online"] is True
    node = json.loads((gd2.statedir / "node.json").read_text())
    assert peers[0]["id"] == node["peer_id"] and peers[0]["cluster_id"] == node["cluster_id"]
    table = gd2.ctl("peer", "list", check=True).stdout
    assert node["peer_id"] in table and "Connected" in table


def test_debug_store_shows_decoded_records(gd2: DaemonProcess, brick_fs: Path) -> None:
    gd2.ctl("volume", "create", "dbg", f"{gd2.address}:{brick_fs}/d", check=True)
    dump = json.loads(gd2.ctl("--json", "debug", "store", "volumes/", check=True).stdout)
    [entry] = dump["entries"]
    assert entry["key"] == "volumes/dbg" and entry["kind"] == "volume" and entry["schema_version"] == 1
    assert entry["value"]["name"] == "dbg"
    assert "volumes/dbg" in gd2.ctl("debug", "store", check=True).stdout


@pytest.mark.parametrize("restart_kind", ["sigterm", "sigkill"])
def test_identity_and_volumes_survive_restart(
    daemon_factory: Callable[..., DaemonProcess], brick_fs: Path, restart_kind: str
) -> None:
    gd2 = daemon_factory()
    node_before = (gd2.statedir / "node.json").read_text()
    gd2.ctl("volume", "create", "keep", f"{gd2.address}:{brick_fs}/k", check=True)
    if restart_kind == "sigkill":
        gd2.kill()  # its etcd child is left running, as after a crash
    else:
        gd2.stop()
    gd2.start()
    assert (gd2.statedir / "node.json").read_text() == node_before
    assert json.loads(gd2.ctl("--json", "volume", "info", "keep", check=True).stdout)["name"] == "keep"
