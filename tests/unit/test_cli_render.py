"""gd2ctl's text output, laid out like the gluster CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gd2.cli import render


def volume(name: str, vtype: str, hosts_paths: list[str], **counts: int) -> dict[str, Any]:
    bricks = [{"id": f"b{i}", "peer_id": "p1", "host": hp.split(":")[0], "path": hp.split(":", 1)[1],
               "arbiter": False} for i, hp in enumerate(hosts_paths)]
    return {"id": "63d82feb-50cb-4434-9d5a-272c551bec34", "name": name, "type": vtype, "state": "Created",
            "transport": "tcp", "replica_count": 1, "arbiter_count": 0, "disperse_count": 0,
            "redundancy_count": 0, "distribute_count": 1, "bricks": bricks, "options": {},
            "created_at": "2024-01-01T00:00:00Z", **counts}


def test_replicate_info_matches_gluster() -> None:
    v1 = volume("v1", "Replicate", ["127.0.0.21:/bricks/b1", "127.0.0.21:/bricks/b2"], replica_count=2)
    v1["options"] = {"nfs.disable": "on", "transport.address-family": "inet"}
    assert render.volume_info([v1]) == (
        "\n"
        "Volume Name: v1\n"
        "Type: Replicate\n"
        "Volume ID: 63d82feb-50cb-4434-9d5a-272c551bec34\n"
        "Status: Created\n"
        "Number of Bricks: 1 x 2 = 2\n"
        "Transport-type: tcp\n"
        "Bricks:\n"
        "Brick1: 127.0.0.21:/bricks/b1\n"
        "Brick2: 127.0.0.21:/bricks/b2\n"
        "Options Reconfigured:\n"
        "nfs.disable: on\n"
        "transport.address-family: inet\n"
    )


def test_arbiter_info() -> None:
    v = volume("arb", "Replicate", ["a:/b", "b:/b", "c:/b"], replica_count=3, arbiter_count=1)
    v["bricks"][2]["arbiter"] = True
    text = render.volume_info([v])
    assert "Number of Bricks: 1 x (2 + 1) = 3\n" in text
    assert "Brick2: b:/b\nBrick3: c:/b (arbiter)\n" in text
    assert "Options Reconfigured" not in text


@pytest.mark.parametrize(("vtype", "bricks", "counts", "expected"), [
    ("Distribute", 1, {}, "1"),
    ("Distribute", 2, {"distribute_count": 2}, "2"),
    ("Replicate", 3, {"replica_count": 3}, "1 x 3 = 3"),
    ("Distributed-Replicate", 4, {"replica_count": 2, "distribute_count": 2}, "2 x 2 = 4"),
    ("Distributed-Replicate", 6, {"replica_count": 3, "arbiter_count": 1, "distribute_count": 2}, "2 x (2 + 1) = 6"),
    ("Disperse", 3, {"disperse_count": 3, "redundancy_count": 1}, "1 x (2 + 1) = 3"),
    ("Disperse", 6, {"disperse_count": 6, "redundancy_count": 2}, "1 x (4 + 2) = 6"),
    ("Distributed-Disperse", 6, {"disperse_count": 3, "redundancy_count": 1, "distribute_count": 2},
     "2 x (2 + 1) = 6"),
])
def test_number_of_bricks(vtype: str, bricks: int, counts: dict[str, int], expected: str) -> None:
    v = volume("v", vtype, [f"h{i}:/b" for i in range(bricks)], **counts)
    assert render.brick_count(v) == expected
    assert f"\nType: {vtype}\n" in render.volume_info([v])
    assert f"\nNumber of Bricks: {expected}\n" in render.volume_info([v])


def test_several_volumes_each_after_a_blank_line() -> None:
    text = render.volume_info([volume("a", "Distribute", ["h:/a"]), volume("b", "Distribute", ["h:/b"])])
    assert text.startswith("\nVolume Name: a\n")
    assert "\nBrick1: h:/a\n\nVolume Name: b\n" in text


def test_missing_fields_do_not_break_info() -> None:
    assert render.volume_info([{"name": "odd"}]).splitlines()[1:] == [
        "Volume Name: odd", "Type: ", "Volume ID: ", "Status: ", "Number of Bricks: 0", "Transport-type: tcp",
        "Bricks:"]


def test_no_volumes() -> None:
    assert render.volume_info([]) == "No volumes present\n"
    assert render.volume_list([]) == "No volumes present in cluster\n"
    assert render.volume_list([volume("a", "Distribute", []), volume("b", "Distribute", [])]) == "a\nb\n"


def test_peer_table() -> None:
    peers = [
        {"id": "d8d6a5a0-0000-4000-8000-000000000001", "name": "node-one", "addresses": ["127.0.0.11"],
         "cluster_id": "c", "online": True},
        {"id": "d8d6a5a0-0000-4000-8000-000000000002", "name": "n2", "addresses": ["127.0.0.12", "10.0.0.2"],
         "cluster_id": "c", "online": False},
    ]
    assert render.peer_table(peers).splitlines() == [
        "UUID                                  Name      Addresses            State",
        "d8d6a5a0-0000-4000-8000-000000000001  node-one  127.0.0.11           Connected",
        "d8d6a5a0-0000-4000-8000-000000000002  n2        127.0.0.12,10.0.0.2  Disconnected",
    ]


def test_store_dump() -> None:
    entries = [
        {"key": "gd2/c/volumes/v1", "schema_version": 1, "kind": "volume", "value": {"name": "v1", "n": [1]}},
        {"key": "gd2/c/peers/p", "schema": 2, "kind": "peer", "value": "x"},
    ]
    text = render.store_dump(entries, "gd2/")
    assert text == (
        "gd2/c/volumes/v1 (volume, schema 1)\n"
        "  {\n"
        '    "n": [\n'
        "      1\n"
        "    ],\n"
        '    "name": "v1"\n'
        "  }\n"
        "\n"
        "gd2/c/peers/p (peer, schema 2)\n"
        '  "x"\n'
    )
    assert json.loads(text.split("\n", 1)[1].split("\n\n")[0]) == {"name": "v1", "n": [1]}
    assert render.store_dump([], "gd2/x") == "No store entries under 'gd2/x'\n"
    assert render.store_dump([], "") == "No store entries\n"


def test_daemon_version() -> None:
    assert render.daemon_version({"version": "0.1.0", "api": "v1"}) == "glusterd2 0.1.0 (API v1)\n"
