"""Golden comparison with glusterd1 10.3's own volfiles for the same volume.

The reference (captured from Debian's glusterd 10.3, in
/work/shared/reference/glusterd1-10.3 and copied below) is volume v1: replica 2, bricks 127.0.0.21:/bricks/b1 and
/bricks/b2, glusterd started with transport.socket.bind-address. We rebuild
the same volume from vols-v1-info.txt (same id, credentials and stored
options) and compare graphs: the same xlators with the same names and types
in the same order, the same edges, and the same options.

Deliberate differences (checked as such below, not hidden):

* Option order inside a volume: glusterd1 writes a section's options in the
  reverse of the order it set them (its dict prepends); we write them in the
  order we set them. The grammar gives order no meaning, so options are
  compared as mappings.
* marker's ``timestamp-file`` lives under the manager's state directory; the
  reference glusterd ran with /var/tmp/ref/gd1/wd, which we pass as workdir.
* ``shared-brick-count`` comes from statfs on the node; both reference bricks
  were on one filesystem, so we pass 2.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gd2.api.models import Brick, Volume, VolumeAuth, VolumeState, VolumeType
from gd2.volgen import brick_volfile, client_volfile, create_defaults, lookup, shd_volfile

REFERENCE_WORKDIR = "/var/tmp/ref/gd1/wd"


def _load_parser() -> ModuleType:
    name = "gd2_tests_volgen_parser"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_volgen_parser.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


parse_volfile = _load_parser().parse_volfile

# Captured from glusterd1 10.3 (/work/shared/reference/glusterd1-10.3), kept here so the test runs on a
# fresh clone.
REFERENCE: dict[str, str] = {
    "vols-v1-info.txt": """\
type=2
count=2
status=1
sub_count=2
replica_count=2
disperse_count=0
redundancy_count=0
version=2
transport-type=0
volume-id=63d82feb-50cb-4434-9d5a-272c551bec34
username=93484afa-0c55-4269-b35b-5ed25f98d843
password=4e4008bd-cee9-413c-9b68-11123953f11c
op-version=40000
client-op-version=30800
quota-version=0
tier-enabled=0
parent_volname=N/A
restored_from_snap=00000000-0000-0000-0000-000000000000
snap-max-hard-limit=256
cluster.granular-entry-heal=on
storage.fips-mode-rchecksum=on
transport.address-family=inet
nfs.disable=on
performance.client-io-threads=off
brick-0=127.0.0.21:-bricks-b1
brick-1=127.0.0.21:-bricks-b2
""",
    "v1.127.0.0.21.bricks-b1.vol": """\
volume v1-posix
    type storage/posix
    option shared-brick-count 2
    option fips-mode-rchecksum on
    option volume-id 63d82feb-50cb-4434-9d5a-272c551bec34
    option directory /bricks/b1
end-volume

volume v1-trash
    type features/trash
    option trash-internal-op off
    option brick-path /bricks/b1
    option trash-dir .trashcan
    subvolumes v1-posix
end-volume

volume v1-changelog
    type features/changelog
    option changelog-barrier-timeout 120
    option changelog-notification off
    option changelog-dir /bricks/b1/.glusterfs/changelogs
    option changelog-brick /bricks/b1
    subvolumes v1-trash
end-volume

volume v1-bitrot-stub
    type features/bitrot-stub
    option bitrot disable
    option export /bricks/b1
    subvolumes v1-changelog
end-volume

volume v1-access-control
    type features/access-control
    subvolumes v1-bitrot-stub
end-volume

volume v1-locks
    type features/locks
    option enforce-mandatory-lock off
    subvolumes v1-access-control
end-volume

volume v1-worm
    type features/worm
    option worm-files-deletable on
    option worm-file-level off
    option worm off
    subvolumes v1-locks
end-volume

volume v1-read-only
    type features/read-only
    option read-only off
    subvolumes v1-worm
end-volume

volume v1-leases
    type features/leases
    option leases off
    subvolumes v1-read-only
end-volume

volume v1-upcall
    type features/upcall
    option cache-invalidation off
    subvolumes v1-leases
end-volume

volume v1-io-threads
    type performance/io-threads
    subvolumes v1-upcall
end-volume

volume v1-selinux
    type features/selinux
    option selinux on
    subvolumes v1-io-threads
end-volume

volume v1-marker
    type features/marker
    option inode-quota off
    option quota off
    option gsync-force-xtime off
    option xtime off
    option quota-version 0
    option timestamp-file /var/tmp/ref/gd1/wd/vols/v1/marker.tstamp
    option volume-uuid 63d82feb-50cb-4434-9d5a-272c551bec34
    subvolumes v1-selinux
end-volume

volume v1-barrier
    type features/barrier
    option barrier-timeout 120
    option barrier disable
    subvolumes v1-marker
end-volume

volume v1-index
    type features/index
    option xattrop-pending-watchlist trusted.afr.v1-
    option xattrop-dirty-watchlist trusted.afr.dirty
    option index-base /bricks/b1/.glusterfs/indices
    subvolumes v1-barrier
end-volume

volume v1-quota
    type features/quota
    option deem-statfs off
    option server-quota off
    option volume-uuid v1
    subvolumes v1-index
end-volume

volume /bricks/b1
    type debug/io-stats
    option global-threading off
    option count-fop-hits off
    option latency-measurement off
    option threads 16
    option log-level INFO
    option volume-id 63d82feb-50cb-4434-9d5a-272c551bec34
    option unique-id /bricks/b1
    subvolumes v1-quota
end-volume

volume v1-server
    type protocol/server
    option transport.listen-backlog 1024
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.socket.ssl-enabled off
    option transport.socket.keepalive 1
    option auth.addr./bricks/b1.allow *
    option auth-path /bricks/b1
    option auth.login.93484afa-0c55-4269-b35b-5ed25f98d843.password 4e4008bd-cee9-413c-9b68-11123953f11c
    option auth.login./bricks/b1.allow 93484afa-0c55-4269-b35b-5ed25f98d843
    option transport.address-family inet
    option transport.socket.bind-address 127.0.0.21
    option transport-type tcp
    subvolumes /bricks/b1
end-volume
""",
    "v1.tcp-fuse.vol": """\
volume v1-client-0
    type protocol/client
    option send-gids true
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b1
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-client-1
    type protocol/client
    option send-gids true
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b2
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-replicate-0
    type cluster/replicate
    option use-anonymous-inode yes
    option use-compound-fops off
    option granular-entry-heal on
    option volume-id 63d82feb-50cb-4434-9d5a-272c551bec34
    option afr-pending-xattr v1-client-0,v1-client-1
    subvolumes v1-client-0 v1-client-1
end-volume

volume v1-dht
    type cluster/distribute
    option force-migration off
    option lock-migration off
    subvolumes v1-replicate-0
end-volume

volume v1-utime
    type features/utime
    option noatime on
    subvolumes v1-dht
end-volume

volume v1-write-behind
    type performance/write-behind
    subvolumes v1-utime
end-volume

volume v1-open-behind
    type performance/open-behind
    subvolumes v1-write-behind
end-volume

volume v1-quick-read
    type performance/quick-read
    subvolumes v1-open-behind
end-volume

volume v1-md-cache
    type performance/md-cache
    subvolumes v1-quick-read
end-volume

volume v1
    type debug/io-stats
    option global-threading off
    option count-fop-hits off
    option latency-measurement off
    option threads 16
    option log-level INFO
    subvolumes v1-md-cache
end-volume
""",
    "trusted-v1.tcp-fuse.vol": """\
volume v1-client-0
    type protocol/client
    option send-gids true
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option password 4e4008bd-cee9-413c-9b68-11123953f11c
    option username 93484afa-0c55-4269-b35b-5ed25f98d843
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b1
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-client-1
    type protocol/client
    option send-gids true
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option password 4e4008bd-cee9-413c-9b68-11123953f11c
    option username 93484afa-0c55-4269-b35b-5ed25f98d843
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b2
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-replicate-0
    type cluster/replicate
    option use-anonymous-inode yes
    option use-compound-fops off
    option granular-entry-heal on
    option volume-id 63d82feb-50cb-4434-9d5a-272c551bec34
    option afr-pending-xattr v1-client-0,v1-client-1
    subvolumes v1-client-0 v1-client-1
end-volume

volume v1-dht
    type cluster/distribute
    option force-migration off
    option lock-migration off
    subvolumes v1-replicate-0
end-volume

volume v1-utime
    type features/utime
    option noatime on
    subvolumes v1-dht
end-volume

volume v1-write-behind
    type performance/write-behind
    subvolumes v1-utime
end-volume

volume v1-open-behind
    type performance/open-behind
    subvolumes v1-write-behind
end-volume

volume v1-quick-read
    type performance/quick-read
    subvolumes v1-open-behind
end-volume

volume v1-md-cache
    type performance/md-cache
    subvolumes v1-quick-read
end-volume

volume v1
    type debug/io-stats
    option global-threading off
    option count-fop-hits off
    option latency-measurement off
    option threads 16
    option log-level INFO
    subvolumes v1-md-cache
end-volume
""",
    "v1-shd.vol": """\
volume v1-client-0
    type protocol/client
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option password 4e4008bd-cee9-413c-9b68-11123953f11c
    option username 93484afa-0c55-4269-b35b-5ed25f98d843
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b1
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-client-1
    type protocol/client
    option strict-locks off
    option transport.socket.keepalive-count 9
    option transport.socket.keepalive-interval 2
    option transport.socket.keepalive-time 20
    option transport.tcp-user-timeout 0
    option transport.socket.ssl-enabled off
    option password 4e4008bd-cee9-413c-9b68-11123953f11c
    option username 93484afa-0c55-4269-b35b-5ed25f98d843
    option transport.address-family inet
    option transport-type tcp
    option remote-subvolume /bricks/b2
    option remote-host 127.0.0.21
    option ping-timeout 42
end-volume

volume v1-replicate-0
    type cluster/replicate
    option iam-self-heal-daemon yes
    option use-anonymous-inode yes
    option use-compound-fops off
    option granular-entry-heal on
    option self-heal-daemon enable
    option entry-self-heal on
    option data-self-heal on
    option metadata-self-heal on
    option background-self-heal-count 0
    option volume-id 63d82feb-50cb-4434-9d5a-272c551bec34
    option afr-pending-xattr v1-client-0,v1-client-1
    subvolumes v1-client-0 v1-client-1
end-volume

volume v1
    type debug/io-stats
    option threads 16
    option log-level INFO
    subvolumes v1-replicate-0
end-volume
""",
}


# Keys of glusterd1's vols/<vol>/info that are not volume options.
_INFO_FIELDS = {
    "type", "count", "status", "sub_count", "replica_count", "disperse_count", "redundancy_count", "version",
    "transport-type", "volume-id", "username", "password", "op-version", "client-op-version", "quota-version",
    "tier-enabled", "parent_volname", "restored_from_snap", "snap-max-hard-limit",
}


def _reference(name: str) -> str:
    return REFERENCE[name]


def reference_volume() -> Volume:
    """Volume v1 as glusterd1 stored it, in our record's shape."""
    info = dict(line.split("=", 1) for line in _reference("vols-v1-info.txt").splitlines() if "=" in line)
    bricks = []
    for index in range(int(info["count"])):
        host, exp = info[f"brick-{index}"].split(":", 1)
        bricks.append(Brick(id=f"brick-{index}", peer_id="peer-0", host=host, path=exp.replace("-", "/")))
    options = {key: value for key, value in info.items() if key not in _INFO_FIELDS and not key.startswith("brick-")}
    replica = int(info["replica_count"])
    assert info["type"] == "2" and replica == len(bricks) == 2  # GF_CLUSTER_TYPE_REPLICATE, one set
    return Volume(id=info["volume-id"], name="v1", type=VolumeType.REPLICATE, state=VolumeState.STARTED,
                  replica_count=replica, distribute_count=1, bricks=bricks, options=options, created_at="then",
                  auth=VolumeAuth(username=info["username"], password=info["password"]))


def assert_same_graph(ours: str, theirs: str) -> None:
    mine, ref = parse_volfile(ours), parse_volfile(theirs)
    assert [(s.name, s.type) for s in mine.sections.values()] == [(s.name, s.type) for s in ref.sections.values()]
    assert mine.edges() == ref.edges()
    for name, section in ref.sections.items():
        assert mine.sections[name].options == section.options, name


def test_reference_volume_is_what_volume_create_stores() -> None:
    volume = reference_volume()
    assert volume.options == create_defaults(VolumeType.REPLICATE)
    assert all(lookup(key) is not None for key in volume.options)
    assert [b.path for b in volume.bricks] == ["/bricks/b1", "/bricks/b2"]


def test_brick_volfile_matches_glusterd1() -> None:
    volume = reference_volume()
    ours = brick_volfile(volume, volume.bricks[0], workdir=REFERENCE_WORKDIR, shared_brick_count=2)
    assert_same_graph(ours, _reference("v1.127.0.0.21.bricks-b1.vol"))


@pytest.mark.parametrize(("trusted", "reference"), [(False, "v1.tcp-fuse.vol"), (True, "trusted-v1.tcp-fuse.vol")])
def test_client_volfile_matches_glusterd1(trusted: bool, reference: str) -> None:
    assert_same_graph(client_volfile(reference_volume(), trusted=trusted), _reference(reference))


def test_shd_volfile_matches_glusterd1() -> None:
    assert_same_graph(shd_volfile(reference_volume()), _reference("v1-shd.vol"))


def test_only_the_option_order_differs() -> None:
    """Same lines, other order: the one deliberate difference in the text."""
    volume = reference_volume()
    pairs: list[tuple[str, str]] = [
        (brick_volfile(volume, volume.bricks[0], workdir=REFERENCE_WORKDIR, shared_brick_count=2),
         "v1.127.0.0.21.bricks-b1.vol"),
        (client_volfile(volume), "v1.tcp-fuse.vol"),
        (client_volfile(volume, trusted=True), "trusted-v1.tcp-fuse.vol"),
        (shd_volfile(volume), "v1-shd.vol"),
    ]
    for ours, reference in pairs:
        theirs = _reference(reference)
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines()), reference
        assert ours.count("\n") == theirs.count("\n"), reference


def _xlator_dir() -> Path:
    glusterfsd = Path("/usr/sbin/glusterfsd")
    if not glusterfsd.exists():
        pytest.fail("glusterfsd is not installed: run the README's test command, which installs it")
    out = subprocess.run([str(glusterfsd), "--print-xlatordir"], capture_output=True, text=True, check=True,
                         timeout=30)
    return Path(out.stdout.strip())


@pytest.mark.integration
def test_every_xlator_type_is_installed() -> None:
    """Each ``type`` we write names a shared object the installed glusterfs can load (no server is started)."""
    xlator_dir = _xlator_dir()
    assert xlator_dir.is_dir(), xlator_dir
    everything = {key: "on" for key in (
        "performance.read-ahead", "performance.readdir-ahead", "performance.io-cache", "performance.nl-cache",
        "performance.client-io-threads", "features.shard", "network.compression", "features.tag-namespaces",
        "features.sdfs")}
    base = reference_volume()
    volumes: list[Any] = [
        base.model_copy(update={"options": everything}),
        base.model_copy(update={
            "replica_count": 3, "arbiter_count": 1,
            "bricks": [Brick(id=f"a{i}", peer_id="p", host="127.0.0.21", path=f"/bricks/a{i}", arbiter=i == 2)
                       for i in range(3)]}),
        base.model_copy(update={
            "type": VolumeType.DISPERSE, "replica_count": 1, "disperse_count": 3, "redundancy_count": 1,
            "bricks": [Brick(id=f"d{i}", peer_id="p", host="127.0.0.21", path=f"/bricks/d{i}") for i in range(3)]}),
    ]
    types: set[str] = set()
    for volume in volumes:
        texts = [client_volfile(volume), shd_volfile(volume)]
        texts += [brick_volfile(volume, brick) for brick in volume.bricks]
        for text in texts:
            types |= {section.type for section in parse_volfile(text).sections.values()}
    assert "features/arbiter" in types and "cluster/disperse" in types
    missing = sorted(t for t in types if not (xlator_dir / f"{t}.so").exists())
    assert missing == []
