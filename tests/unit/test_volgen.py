"""Volgen: brick, client and shd graphs for every volume type, option handling, volfile keys."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hypothesis
import hypothesis.strategies
import pytest

from gd2.api.models import Brick, Volume, VolumeAuth, VolumeState, VolumeType
from gd2.errors import InvalidRequest, NotFound
from gd2.volgen import (
    Graph,
    GraphError,
    VolfileKey,
    VolfileKind,
    all_keys,
    brick_export_name,
    brick_graph,
    brick_volfile,
    brick_volfile_id,
    client_graph,
    client_volfile,
    create_defaults,
    find_brick,
    lookup,
    needs_shd,
    render,
    resolve_key,
    shd_volfile,
    shd_volfile_id,
)
from gd2.volgen.build import PREDICATES, parse_bool
from gd2.volgen.extra import ExtraXlator
from gd2.volgen.keys import MAX_KEY_LENGTH
from gd2.volgen.options import CATALOGUE, GraphKind, Target, Transform, ValueKind, VolumeOption
from gd2.volgen.rules import GRAPH_OVERRIDES, STACKS


def _load_parser() -> ModuleType:
    name = "gd2_tests_volgen_parser"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_volgen_parser.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_parser = _load_parser()
parse_volfile = _parser.parse_volfile

VOL_ID = "9a1f0b9e-4a57-4a55-9f0c-6b1a3c2d7e10"
AUTH = VolumeAuth(username="user-uuid", password="secret-uuid")

# name: (type, bricks, replica, arbiter, disperse, redundancy)
SHAPES: dict[str, tuple[VolumeType, int, int, int, int, int]] = {
    "distribute-1": (VolumeType.DISTRIBUTE, 1, 1, 0, 0, 0),
    "distribute-3": (VolumeType.DISTRIBUTE, 3, 1, 0, 0, 0),
    "replicate-2": (VolumeType.REPLICATE, 2, 2, 0, 0, 0),
    "replicate-3": (VolumeType.REPLICATE, 3, 3, 0, 0, 0),
    "arbiter-3x1": (VolumeType.REPLICATE, 3, 3, 1, 0, 0),
    "dist-arbiter-2x3": (VolumeType.DISTRIBUTED_REPLICATE, 6, 3, 1, 0, 0),
    "dist-replicate-2x2": (VolumeType.DISTRIBUTED_REPLICATE, 4, 2, 0, 0, 0),
    "disperse-3r1": (VolumeType.DISPERSE, 3, 1, 0, 3, 1),
    "dist-disperse-2x6r2": (VolumeType.DISTRIBUTED_DISPERSE, 12, 1, 0, 6, 2),
}


def make_volume(shape: str = "replicate-2", name: str = "gv0", options: dict[str, str] | None = None,
                with_create_defaults: bool = True) -> Volume:
    vtype, count, replica, arbiter, disperse, redundancy = SHAPES[shape]
    size = replica if replica > 1 else (disperse or 1)
    bricks = [
        Brick(id=f"brick-{i}", peer_id=f"peer-{i % 3}", host=f"10.0.0.{i % 3 + 1}", path=f"/bricks/{name}/b{i}",
              arbiter=bool(arbiter) and i % size == size - 1)
        for i in range(count)
    ]
    opts = dict(create_defaults(vtype)) if with_create_defaults else {}
    opts.update(options or {})
    return Volume(id=VOL_ID, name=name, type=vtype, state=VolumeState.CREATED, replica_count=replica,
                  arbiter_count=arbiter, disperse_count=disperse, redundancy_count=redundancy,
                  distribute_count=count // size, bricks=bricks, options=opts, created_at="now", auth=AUTH)


def all_volfiles(volume: Volume) -> Iterator[tuple[str, str]]:
    yield "client", client_volfile(volume)
    yield "trusted-client", client_volfile(volume, trusted=True)
    for brick in volume.bricks:
        yield f"brick {brick.path}", brick_volfile(volume, brick)
    if needs_shd(volume):
        yield "shd", shd_volfile(volume)


def chain_types(parsed: Any, top: str, bottom: str | None = None) -> list[str]:
    """Xlator types from the bottom of the single-child chain under ``top`` (or ``bottom``) up to it."""
    names = parsed.chain_below(top)
    if bottom is not None:
        names = names[:names.index(bottom) + 1]
    return [parsed.sections[n].type for n in reversed(names)]


# ---- every volfile of every shape obeys the grammar -------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_every_volfile_parses_back(shape: str) -> None:
    volume = make_volume(shape)
    for what, text in all_volfiles(volume):
        parsed = parse_volfile(text)
        assert parsed.sections, what


# ---- client graph ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_client_graph_shape(shape: str) -> None:
    volume = make_volume(shape)
    parsed = parse_volfile(client_volfile(volume))
    clients = [f"gv0-client-{i}" for i in range(len(volume.bricks))]
    assert [s.name for s in parsed.of_type("protocol/client")] == clients
    for name, brick in zip(clients, volume.bricks, strict=True):
        options = parsed.sections[name].options
        assert options["remote-host"] == brick.host
        assert options["remote-subvolume"] == brick.path
        assert options["transport-type"] == "tcp"
        assert "username" not in options and "password" not in options
        assert "remote-port" not in options  # clients always go through portmap

    size = volume.subvolume_size
    sets = [clients[i:i + size] for i in range(0, len(clients), size)]
    if volume.replica_count > 1:
        afrs = parsed.of_type("cluster/replicate")
        assert [s.name for s in afrs] == [f"gv0-replicate-{k}" for k in range(len(sets))]
        for afr, members in zip(afrs, sets, strict=True):
            assert afr.subvolumes == members
            assert afr.options["afr-pending-xattr"] == ",".join(members)
            assert afr.options["volume-id"] == VOL_ID
            assert afr.options.get("arbiter-count") == ("1" if volume.arbiter_count else None)
            assert "iam-self-heal-daemon" not in afr.options
        dht_children = [s.name for s in afrs]
    elif volume.disperse_count:
        ecs = parsed.of_type("cluster/disperse")
        assert [s.name for s in ecs] == [f"gv0-disperse-{k}" for k in range(len(sets))]
        for ec, members in zip(ecs, sets, strict=True):
            assert ec.subvolumes == members
            assert ec.options["redundancy"] == str(volume.redundancy_count)
        dht_children = [s.name for s in ecs]
    else:
        assert not parsed.of_type("cluster/replicate") and not parsed.of_type("cluster/disperse")
        dht_children = clients
    assert parsed.sections["gv0-dht"].type == "cluster/distribute"
    assert parsed.sections["gv0-dht"].subvolumes == dht_children

    top = parsed.top
    assert (top.name, top.type) == ("gv0", "debug/io-stats")
    # glusterd1 10.x defaults above DHT; client-io-threads is stored off for replicate volumes only.
    stack = ["cluster/distribute", "features/utime", "performance/write-behind", "performance/open-behind",
             "performance/quick-read", "performance/md-cache"]
    if volume.replica_count == 1:
        stack.append("performance/io-threads")
    assert chain_types(parsed, "gv0", "gv0-dht") == [*stack, "debug/io-stats"]


def test_trusted_client_carries_the_credentials() -> None:
    volume = make_volume("replicate-2")
    parsed = parse_volfile(client_volfile(volume, trusted=True))
    for client in parsed.of_type("protocol/client"):
        assert (client.options["username"], client.options["password"]) == ("user-uuid", "secret-uuid")
    plain = parse_volfile(client_volfile(volume))
    assert [s.name for s in plain.sections.values()] == list(parsed.sections)


def test_single_brick_still_has_dht() -> None:
    parsed = parse_volfile(client_volfile(make_volume("distribute-1")))
    assert parsed.sections["gv0-dht"].subvolumes == ["gv0-client-0"]


# ---- brick graph -----------------------------------------------------------------------------------------

BRICK_STACK = [
    "storage/posix", "features/trash", "features/changelog", "features/bitrot-stub", "features/access-control",
    "features/locks", "features/worm", "features/read-only", "features/leases", "features/upcall",
    "performance/io-threads", "features/selinux", "features/marker", "features/barrier", "features/index",
    "features/quota", "debug/io-stats", "protocol/server",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_brick_graph_shape(shape: str) -> None:
    volume = make_volume(shape)
    for brick in volume.bricks:
        parsed = parse_volfile(brick_volfile(volume, brick))
        server = parsed.top
        assert (server.name, server.type) == ("gv0-server", "protocol/server")
        assert server.subvolumes == [brick.path]
        expected = list(BRICK_STACK)
        if brick.arbiter:
            expected.insert(1, "features/arbiter")
        assert chain_types(parsed, "gv0-server") == expected
        names = parsed.chain_below("gv0-server")
        assert names[1] == brick.path
        assert all(n == f"gv0-{parsed.sections[n].type.split('/')[1]}" for n in names[2:])

        posix = parsed.sections["gv0-posix"].options
        assert posix["directory"] == brick.path
        assert posix["volume-id"] == VOL_ID
        stats = parsed.sections[brick.path].options
        assert (stats["unique-id"], stats["volume-id"]) == (brick.path, VOL_ID)
        index = parsed.sections["gv0-index"].options
        assert index["index-base"] == f"{brick.path}/.glusterfs/indices"
        if volume.disperse_count:
            assert index["xattrop64-watchlist"] == "trusted.ec.dirty"
            assert "xattrop-pending-watchlist" not in index
        else:
            assert index["xattrop-pending-watchlist"] == "trusted.afr.gv0-"
            assert index["xattrop-dirty-watchlist"] == "trusted.afr.dirty"
            assert "xattrop64-watchlist" not in index

        opts = server.options
        assert opts["auth-path"] == brick.path
        assert opts[f"auth.addr.{brick.path}.allow"] == "*"
        assert opts[f"auth.login.{brick.path}.allow"] == "user-uuid"
        assert opts["auth.login.user-uuid.password"] == "secret-uuid"
        assert opts["transport.socket.bind-address"] == brick.host
        assert opts["transport-type"] == "tcp"
        assert not any("listen-port" in key for key in opts)  # the port goes on the command line


def test_brick_environment_parameters() -> None:
    volume = make_volume("replicate-2")
    brick = volume.bricks[0]
    parsed = parse_volfile(brick_volfile(volume, brick, workdir="/srv/gd2", shared_brick_count=2, bind=False))
    assert parsed.sections["gv0-posix"].options["shared-brick-count"] == "2"
    assert parsed.sections["gv0-marker"].options["timestamp-file"] == "/srv/gd2/vols/gv0/marker.tstamp"
    assert "transport.socket.bind-address" not in parsed.top.options


def test_brick_must_belong_to_the_volume() -> None:
    volume = make_volume("replicate-2")
    stranger = Brick(id="x", peer_id="p", host="10.9.9.9", path="/elsewhere")
    with pytest.raises(InvalidRequest, match="not a brick of volume"):
        brick_volfile(volume, stranger)


# ---- self-heal daemon ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [s for s in SHAPES if not s.startswith("distribute")])
def test_shd_graph(shape: str) -> None:
    volume = make_volume(shape)
    assert needs_shd(volume)
    parsed = parse_volfile(shd_volfile(volume))
    cluster_type = "cluster/replicate" if volume.replica_count > 1 else "cluster/disperse"
    clusters = parsed.of_type(cluster_type)
    assert (parsed.top.name, parsed.top.type) == ("gv0", "debug/io-stats")
    assert parsed.top.subvolumes == [c.name for c in clusters]
    assert not parsed.of_type("cluster/distribute")
    assert not [s for s in parsed.sections.values() if s.type.startswith(("performance/", "features/"))]
    client_graph_names = {s.name for s in parse_volfile(client_volfile(volume)).of_type("protocol/client")}
    assert {s.name for s in parsed.of_type("protocol/client")} == client_graph_names
    for client in parsed.of_type("protocol/client"):
        assert client.options["username"] == "user-uuid"
        assert "send-gids" not in client.options
    for cluster in clusters:
        assert cluster.options["iam-self-heal-daemon"] == "yes"
        assert cluster.options["self-heal-daemon"] == "enable"
        if cluster_type == "cluster/replicate":
            for key in ("data-self-heal", "metadata-self-heal", "entry-self-heal"):
                assert cluster.options[key] == "on"
            assert cluster.options["background-self-heal-count"] == "0"
    assert parsed.top.options == {"log-level": "INFO", "threads": "16"}


@pytest.mark.parametrize("shape", ["distribute-1", "distribute-3"])
def test_distribute_has_no_shd(shape: str) -> None:
    volume = make_volume(shape)
    assert not needs_shd(volume)
    with pytest.raises(InvalidRequest, match="no self-heal daemon"):
        shd_volfile(volume)


def test_self_heal_daemon_off() -> None:
    assert not needs_shd(make_volume("replicate-2", options={"cluster.self-heal-daemon": "off"}))
    assert not needs_shd(make_volume("disperse-3r1", options={"cluster.disperse-self-heal-daemon": "disable"}))


def test_shd_forces_the_heal_options_but_clients_follow_the_volume() -> None:
    volume = make_volume("replicate-2", options={"cluster.data-self-heal": "off", "cluster.eager-lock": "off"})
    shd = parse_volfile(shd_volfile(volume)).sections["gv0-replicate-0"].options
    client = parse_volfile(client_volfile(volume)).sections["gv0-replicate-0"].options
    assert (shd["data-self-heal"], client["data-self-heal"]) == ("on", "off")
    assert shd["eager-lock"] == client["eager-lock"] == "off"


# ---- volume options ------------------------------------------------------------------------------------

PERF = {
    "performance.write-behind": "performance/write-behind",
    "performance.read-ahead": "performance/read-ahead",
    "performance.readdir-ahead": "performance/readdir-ahead",
    "performance.io-cache": "performance/io-cache",
    "performance.open-behind": "performance/open-behind",
    "performance.quick-read": "performance/quick-read",
    "performance.nl-cache": "performance/nl-cache",
    "performance.stat-prefetch": "performance/md-cache",
    "performance.client-io-threads": "performance/io-threads",
}
ALL_ON = {key: "on" for key in PERF} | {"features.shard": "on", "network.compression": "on",
                                        "features.tag-namespaces": "on", "features.sdfs": "on"}


def test_all_toggles_on_stack_in_glusterd1_order() -> None:
    volume = make_volume("dist-replicate-2x2", options=ALL_ON)
    parsed = parse_volfile(client_volfile(volume))
    assert chain_types(parsed, "gv0") == [
        "cluster/distribute", "features/shard", "features/utime", "features/cdc", *PERF.values(), "debug/io-stats"]
    assert parsed.sections["gv0-cdc"].options["mode"] == "client"
    brick = parse_volfile(brick_volfile(volume, volume.bricks[0]))
    assert chain_types(brick, "gv0-server")[-5:] == [
        "features/cdc", "features/namespace", "features/sdfs", "debug/io-stats", "protocol/server"]
    assert brick.sections["gv0-cdc"].options["mode"] == "server"
    assert brick.sections["gv0-namespace"].options["tag-namespaces"] == "on"


@pytest.mark.parametrize("key", PERF)
def test_each_performance_toggle(key: str) -> None:
    xlator = PERF[key]
    for value, present in (("on", True), ("off", False), ("enable", True), ("no", False)):
        volume = make_volume("distribute-3", options={key: value})
        assert bool(parse_volfile(client_volfile(volume)).of_type(xlator)) is present, (key, value)
    # Brick graphs keep their io-threads whatever the client's setting.
    volume = make_volume("distribute-3", options={key: "off"})
    assert parse_volfile(brick_volfile(volume, volume.bricks[0])).of_type("performance/io-threads")


@pytest.mark.parametrize(("key", "graph", "xlator"), [
    ("features.ctime", "client", "features/utime"),
    ("features.acl", "brick", "features/access-control"),
])
def test_default_on_features_can_be_switched_off(key: str, graph: str, xlator: str) -> None:
    for value, present in (("on", True), ("off", False)):
        volume = make_volume("replicate-2", options={key: value})
        text = client_volfile(volume) if graph == "client" else brick_volfile(volume, volume.bricks[0])
        assert bool(parse_volfile(text).of_type(xlator)) is present


def test_toggle_with_a_non_boolean_value_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not a boolean") as info:
        client_volfile(make_volume("replicate-2", options={"performance.io-cache": "maybe"}))
    assert info.value.fields == {"performance.io-cache": "not a boolean"}


def test_newline_in_a_value_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="newline"):
        client_volfile(make_volume("replicate-2", options={"network.ping-timeout": "4\n2"}))


@pytest.mark.parametrize(("value", "expected"), [
    ("on", True), ("ON", True), ("yes", True), ("true", True), ("enable", True), ("1", True),
    ("off", False), ("no", False), ("false", False), ("disable", False), ("0", False),
])
def test_parse_bool(value: str, expected: bool) -> None:
    assert parse_bool("k", value) is expected


def test_options_land_on_every_xlator_of_their_type() -> None:
    options = {"cluster.eager-lock": "off", "network.ping-timeout": "10", "cluster.quorum-type": "auto",
               "performance.io-thread-count": "32", "performance.client-io-threads": "on"}
    volume = make_volume("dist-replicate-2x2", options=options)
    client = parse_volfile(client_volfile(volume))
    assert [s.options["eager-lock"] for s in client.of_type("cluster/replicate")] == ["off", "off"]
    assert {s.options["ping-timeout"] for s in client.of_type("protocol/client")} == {"10"}
    assert client.sections["gv0-io-threads"].options["thread-count"] == "32"
    shd = parse_volfile(shd_volfile(volume))
    assert {s.options["quorum-type"] for s in shd.of_type("cluster/replicate")} == {"auto"}
    brick = parse_volfile(brick_volfile(volume, volume.bricks[0]))
    assert brick.sections["gv0-io-threads"].options["thread-count"] == "32"


def test_log_levels_go_to_their_own_graphs() -> None:
    volume = make_volume("replicate-2", options={"diagnostics.brick-log-level": "DEBUG",
                                                 "diagnostics.client-log-level": "WARNING",
                                                 "diagnostics.latency-measurement": "on"})
    brick = parse_volfile(brick_volfile(volume, volume.bricks[0])).sections[volume.bricks[0].path].options
    client = parse_volfile(client_volfile(volume)).top.options
    shd = parse_volfile(shd_volfile(volume)).top.options
    assert (brick["log-level"], client["log-level"], shd["log-level"]) == ("DEBUG", "WARNING", "WARNING")
    assert brick["latency-measurement"] == client["latency-measurement"] == "on"
    assert "latency-measurement" not in shd


def test_auth_allow_and_reject_name_the_brick() -> None:
    volume = make_volume("replicate-2", options={"auth.allow": "10.0.0.*", "auth.reject": "10.0.0.9"})
    for brick in volume.bricks:
        server = parse_volfile(brick_volfile(volume, brick)).top.options
        assert server[f"auth.addr.{brick.path}.allow"] == "10.0.0.*"
        assert server[f"auth.addr.{brick.path}.reject"] == "10.0.0.9"


def test_address_family_is_written_only_when_set() -> None:
    unset = make_volume("replicate-2", with_create_defaults=False)
    assert "transport.address-family" not in parse_volfile(client_volfile(unset)).sections["gv0-client-0"].options
    inet6 = make_volume("replicate-2", options={"transport.address-family": "inet6"})
    assert parse_volfile(client_volfile(inet6)).sections["gv0-client-0"].options[
        "transport.address-family"] == "inet6"
    assert parse_volfile(brick_volfile(inet6, inet6.bricks[0])).top.options["transport.address-family"] == "inet6"


def test_manage_gids_turns_send_gids_off() -> None:
    volume = make_volume("replicate-2", options={"server.manage-gids": "on"})
    assert parse_volfile(client_volfile(volume)).sections["gv0-client-0"].options["send-gids"] == "false"
    assert parse_volfile(brick_volfile(volume, volume.bricks[0])).top.options["manage-gids"] == "on"


# What the bitrot plugin contributes (plugins/bitrot): features.bitrot is its key, not the catalogue's.
BITROT_RULES = (
    ExtraXlator(GraphKind.BRICK, "features/bitrot-stub", after="features/changelog",
                options={"bitrot": "on"}, when="features.bitrot", source="bitrot"),
    ExtraXlator(GraphKind.BRICK, "features/changelog", options={"changelog-notification": "on"},
                when="features.bitrot", source="bitrot"),
)


def test_bitrot_flag_drives_the_stub_and_changelog() -> None:
    volume = make_volume("replicate-2", options={"features.bitrot": "on"})
    parsed = parse_volfile(brick_volfile(volume, volume.bricks[0], extra=BITROT_RULES))
    assert parsed.sections["gv0-bitrot-stub"].options["bitrot"] == "on"
    assert parsed.sections["gv0-changelog"].options["changelog-notification"] == "on"
    plain = parse_volfile(brick_volfile(volume, volume.bricks[0]))  # no plugin: the stub stays off
    assert plain.sections["gv0-bitrot-stub"].options["bitrot"] == "disable"
    off = make_volume("replicate-2", options={"features.bitrot": "off"})
    assert parse_volfile(brick_volfile(off, off.bricks[0], extra=BITROT_RULES)).sections[
        "gv0-bitrot-stub"].options["bitrot"] == "disable"


def test_an_extra_xlator_is_inserted_above_its_anchor() -> None:
    volume = make_volume("replicate-2", options={"features.demo": "on"})
    rule = ExtraXlator(GraphKind.BRICK, "features/demo", after="features/locks", options={"dir": "{brick_path}"},
                       when="features.demo")
    parsed = parse_volfile(brick_volfile(volume, volume.bricks[0], extra=(rule,)))
    assert parsed.sections["gv0-demo"].subvolumes == ["gv0-locks"]
    assert parsed.sections["gv0-demo"].options["dir"] == volume.bricks[0].path
    assert parsed.sections["gv0-worm"].subvolumes == ["gv0-demo"]
    client = ExtraXlator(GraphKind.CLIENT, "features/demo", after="cluster/distribute")
    assert parse_volfile(client_volfile(volume, extra=(client,))).sections["gv0-demo"].subvolumes == ["gv0-dht"]
    nowhere = ExtraXlator(GraphKind.BRICK, "features/demo", after="features/absent")
    assert "gv0-demo" not in parse_volfile(brick_volfile(volume, volume.bricks[0], extra=(nowhere,))).sections
    bad = ExtraXlator(GraphKind.CLIENT, "features/demo", after="cluster/distribute", options={"x": "{brick_path}"})
    with pytest.raises(InvalidRequest, match="bad template"):
        client_volfile(volume, extra=(bad,))


def test_ctime_reaches_posix_only_when_set() -> None:
    default = make_volume("replicate-2")
    assert "ctime" not in parse_volfile(brick_volfile(default, default.bricks[0])).sections["gv0-posix"].options
    volume = make_volume("replicate-2", options={"features.ctime": "off"})
    assert parse_volfile(brick_volfile(volume, volume.bricks[0])).sections["gv0-posix"].options["ctime"] == "off"


def test_trash_makes_posix_track_parents() -> None:
    volume = make_volume("replicate-2", options={"features.trash": "on"})
    posix = parse_volfile(brick_volfile(volume, volume.bricks[0])).sections["gv0-posix"].options
    assert posix["update-link-count-parent"] == "on"


def test_shard_sits_on_dht() -> None:
    volume = make_volume("replicate-2", options={"features.shard": "on", "features.shard-block-size": "64MB"})
    parsed = parse_volfile(client_volfile(volume))
    assert parsed.sections["gv0-shard"].subvolumes == ["gv0-dht"]
    assert parsed.sections["gv0-shard"].options["shard-block-size"] == "64MB"


def test_cache_size_sets_both_caches() -> None:
    volume = make_volume("replicate-2", options={"performance.io-cache": "on", "performance.cache-size": "64MB"})
    parsed = parse_volfile(client_volfile(volume))
    assert parsed.sections["gv0-io-cache"].options["cache-size"] == "64MB"
    assert parsed.sections["gv0-quick-read"].options["cache-size"] == "64MB"


# ---- the catalogue, checked against the rules -------------------------------------------------------

REQUIRED_KEYS = (
    "performance.write-behind", "performance.read-ahead", "performance.io-cache", "performance.quick-read",
    "performance.open-behind", "performance.stat-prefetch", "performance.client-io-threads",
    "performance.readdir-ahead", "performance.nl-cache", "performance.cache-size",
    "performance.write-behind-window-size", "cluster.eager-lock", "cluster.self-heal-daemon",
    "cluster.granular-entry-heal", "cluster.quorum-type", "cluster.quorum-count", "cluster.data-self-heal",
    "cluster.metadata-self-heal", "cluster.entry-self-heal", "cluster.background-self-heal-count",
    "cluster.lookup-optimize", "cluster.min-free-disk", "diagnostics.brick-log-level",
    "diagnostics.client-log-level", "diagnostics.latency-measurement", "diagnostics.count-fop-hits",
    "network.ping-timeout", "network.frame-timeout", "auth.allow", "auth.reject", "server.event-threads",
    "client.event-threads", "performance.io-thread-count", "features.read-only", "features.worm",
    "storage.fips-mode-rchecksum", "transport.address-family", "nfs.disable", "features.shard",
    "features.shard-block-size",
)


def test_catalogue_has_the_required_keys() -> None:
    assert sorted(set(REQUIRED_KEYS) - set(all_keys())) == []
    assert len(all_keys()) == len(set(all_keys())) == len(CATALOGUE)
    spec = lookup("performance.write-behind")
    assert spec is not None and spec.default == "on" and spec.targets[0].toggles
    assert lookup("no.such-key") is None


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.key)
def test_catalogue_entry_is_consistent(spec: VolumeOption) -> None:
    assert (spec.kind is ValueKind.ENUM) == bool(spec.choices)
    if spec.default is not None and spec.kind is ValueKind.BOOL:
        parse_bool(spec.key, spec.default)
    if spec.default is not None and spec.choices:
        assert spec.default in spec.choices
    for target in spec.targets:
        assert target.graphs
        for kind in target.graphs:
            assert target.xlator in {rule.type for rule in STACKS[kind]}, (target, kind)
    if any(t.toggles for t in spec.targets):
        assert spec.kind is ValueKind.BOOL and spec.default is not None


def test_rule_conditions_exist() -> None:
    for rules in STACKS.values():
        for rule in rules:
            assert rule.when is None or rule.when in PREDICATES
            assert all(opt.when is None or opt.when in PREDICATES for opt in rule.options)


_SAMPLE = {ValueKind.INT: "77", ValueKind.SIZE: "77MB", ValueKind.TIME: "77", ValueKind.PERCENT: "7%",
           ValueKind.PERCENT_OR_SIZE: "7%", ValueKind.STRING: "x77", ValueKind.ADDRESS_LIST: "10.7.7.*"}


def _sample(spec: VolumeOption) -> str:
    if spec.kind is ValueKind.BOOL:
        return "off" if spec.default is not None and parse_bool(spec.key, spec.default) else "on"
    if spec.kind is ValueKind.ENUM:
        return next(c for c in reversed(spec.choices) if c != spec.default)
    return _SAMPLE[spec.kind]


def _graphs_of(volume: Volume) -> dict[GraphKind, list[Graph]]:
    graphs = {GraphKind.CLIENT: [client_graph(volume)],
              GraphKind.BRICK: [brick_graph(volume, b) for b in volume.bricks]}
    if needs_shd(volume):
        from gd2.volgen import shd_graph
        graphs[GraphKind.SHD] = [shd_graph(volume)]
    return graphs


def _expected(target: Target, value: str) -> str:
    if target.transform is Transform.ON_OFF:
        return "on" if parse_bool("", value) else "off"
    return value


@pytest.mark.parametrize("spec", [s for s in CATALOGUE if any(not t.toggles for t in s.targets)],
                         ids=lambda s: s.key)
def test_every_key_sets_its_targets_and_only_them(spec: VolumeOption) -> None:
    value = _sample(spec)
    seen: set[tuple[str, GraphKind]] = set()
    for shape in ("arbiter-3x1", "disperse-3r1"):
        # Everything switched on, so every target xlator is somewhere; the key under test wins.
        volume = make_volume(shape, options={**ALL_ON, "performance.io-cache": "on", spec.key: value})
        for kind, graphs in _graphs_of(volume).items():
            for graph in graphs:
                fields = {"brick_path": graph.top.children[0].name if kind is GraphKind.BRICK else ""}
                for target in spec.targets:
                    if target.option is None:
                        continue
                    name = target.option.format_map(fields)
                    # The shd forces some keys whatever the volume says.
                    expected = GRAPH_OVERRIDES.get(kind, {}).get(spec.key, _expected(target, value))
                    for xl in graph.of_type(target.xlator):
                        if kind in target.graphs:
                            assert xl.options.get(name) == expected, (xl.name, kind)
                            seen.add((target.xlator, kind))
                        else:
                            assert xl.options.get(name) != value, (xl.name, kind)
    wanted = {(t.xlator, k) for t in spec.targets if t.option is not None for k in t.graphs}
    assert seen == wanted


# ---- rendering -------------------------------------------------------------------------------------------

def test_render_quotes_what_the_lexer_would_misread() -> None:
    graph = Graph()
    bottom = graph.add("volume", "storage/posix", options={
        "directory": "/with space", "quote": 'say "hi"', "back": "a\\b", "hash": "#x", "empty": "",
        "in#side": "a#b", "kw": "end-volume"})
    graph.stack("top", "debug/io-stats")
    text = render(graph)
    assert 'volume "volume"\n' in text and "option in#side a#b" in text
    parsed = parse_volfile(text)
    assert parsed.sections["volume"].options == bottom.options
    assert parsed.top.subvolumes == ["volume"]


@pytest.mark.parametrize(("build", "error"), [
    (lambda g: g.add("a", "t", options={"k": "one\ntwo"}), "newline"),
    (lambda g: (g.add("a", "t"), g.add("a", "t")), "defined twice"),
    (lambda g: g.add("a", "t", [g.add("b", "t"), g.add("c", "t")][1:]), "not reachable"),
    (lambda g: g.add("a", "", []), "no name or no type"),
])
def test_render_refuses_broken_graphs(build: Any, error: str) -> None:
    graph = Graph()
    build(graph)
    with pytest.raises(GraphError, match=error):
        render(graph)


def test_render_refuses_a_child_defined_later_or_itself() -> None:
    graph = Graph()
    late = Graph().add("late", "t")
    graph.add("a", "t", [late])
    with pytest.raises(GraphError, match="before it is defined"):
        render(graph)
    selfish = Graph()
    xl = selfish.add("a", "t")
    xl.children.append(xl)
    with pytest.raises(GraphError, match="itself"):
        render(selfish)
    with pytest.raises(GraphError, match="empty"):
        render(Graph())


# ---- volfile keys -----------------------------------------------------------------------------------------

def test_brick_volfile_id() -> None:
    assert brick_volfile_id("v1", "127.0.0.21", "/bricks/b1") == "v1.127.0.0.21.bricks-b1"
    assert brick_volfile_id("gv0", "node1", "/data/glusterfs/gv0/brick1") == "gv0.node1.data-glusterfs-gv0-brick1"
    assert brick_export_name("/b") == "b"
    assert brick_export_name("/a/b/") == "a-b/"  # glusterd1 keeps a trailing slash
    assert shd_volfile_id("v1") == "shd/v1"


@pytest.mark.parametrize(("key", "expected"), [
    ("v1", VolfileKey(VolfileKind.CLIENT, "v1")),
    ("/v1", VolfileKey(VolfileKind.CLIENT, "v1")),
    ("v1.tcp", VolfileKey(VolfileKind.CLIENT, "v1")),
    ("/v1.tcp", VolfileKey(VolfileKind.CLIENT, "v1")),
    ("v1.tcp-fuse", VolfileKey(VolfileKind.CLIENT, "v1")),
    ("shd/v1", VolfileKey(VolfileKind.SHD, "v1")),
    ("v1.127.0.0.21.bricks-b1", VolfileKey(VolfileKind.BRICK, "v1", "v1.127.0.0.21.bricks-b1")),
    ("my_vol-2.node1.data-b1", VolfileKey(VolfileKind.BRICK, "my_vol-2", "my_vol-2.node1.data-b1")),
])
def test_resolve_key(key: str, expected: VolfileKey) -> None:
    assert resolve_key(key) == expected
    kind, volume, _ = resolve_key(key)
    assert (kind, volume) == (expected.kind, expected.volume)


@pytest.mark.parametrize("key", [
    "", "/", "gluster/glustershd", "rebalance/v1", "snapd/v1", "gfproxyd/v1", "client_per_brick/v1.x.vol",
    "/snaps/s1/v1", "v1.rdma", "/v1.rdma", "v1.", "-v1", "shd/", "v1/extra", "v1.host.", "v 1",
])
def test_resolve_key_refuses_what_is_not_served(key: str) -> None:
    with pytest.raises(NotFound):
        resolve_key(key)


def test_find_brick_matches_volfile_ids() -> None:
    volume = make_volume("replicate-3")
    for brick in volume.bricks:
        key = resolve_key(brick_volfile_id(volume.name, brick.host, brick.path))
        assert key.brick_id is not None
        assert find_brick(volume, key.brick_id) == brick
    assert find_brick(volume, "gv0.10.0.0.1.nope") is None


# ---- create defaults -------------------------------------------------------------------------------------

def test_create_defaults_follow_glusterd1() -> None:
    base = {"nfs.disable": "on", "transport.address-family": "inet", "storage.fips-mode-rchecksum": "on"}
    assert create_defaults(VolumeType.DISTRIBUTE) == base
    assert create_defaults(VolumeType.DISPERSE) == base
    assert create_defaults(VolumeType.DISTRIBUTED_REPLICATE) == {
        **base, "performance.client-io-threads": "off", "cluster.granular-entry-heal": "on"}
    for key in create_defaults(VolumeType.REPLICATE):
        assert lookup(key) is not None


# The brick-key pattern resolve_key used before it was made linear: kept here as the
# specification the linear parser must agree with (it is quadratic on runs of dots).
_OLD_BRICK_KEY = re.compile(r"(?P<volume>[A-Za-z0-9_][A-Za-z0-9_-]*)\.[^/\s]+\.[^/\s]+/?")


@hypothesis.given(hypothesis.strategies.text(alphabet="ab.-_/ \t1", max_size=24))
@hypothesis.settings(max_examples=3000, deadline=None)
def test_brick_keys_parse_as_the_old_pattern_did(key: str) -> None:
    old = _OLD_BRICK_KEY.fullmatch(key)
    try:
        got = resolve_key(key)
    except NotFound:
        got = None
    if got is not None and got.kind is not VolfileKind.BRICK:
        return  # client and shd forms are tried first, as before
    assert (got is not None) == (old is not None), key
    if old is not None and got is not None:
        assert (got.volume, got.brick_id) == (old["volume"], key)


@pytest.mark.parametrize("key", [
    "a" + "." * (MAX_KEY_LENGTH - 3) + "/x",  # the run of dots that made the old pattern backtrack
    "a" + "." * 65536 + "/x",
    "." * 65536,
    "shd/" + "a" * 65536,
])
def test_pathological_keys_are_refused(key: str) -> None:
    with pytest.raises(NotFound) as refused:
        resolve_key(key)
    assert len(str(refused.value)) < 200  # the error does not echo the whole key


def test_the_longest_real_brick_key_is_served() -> None:
    path = "/" + "/".join(["d" * 255] * 15) + "/" + "e" * 200  # under PATH_MAX
    key = brick_volfile_id("v" * 64, "h" * 255, path)
    assert len(key) <= MAX_KEY_LENGTH
    assert resolve_key(key) == VolfileKey(VolfileKind.BRICK, "v" * 64, key)
