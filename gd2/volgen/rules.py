"""The xlators of each graph and their fixed options, as data.

A rule says: add an xlator of this type, named so, with these options,
when this condition holds. Names and values are ``str.format`` templates
over the fields volgen knows for the graph being built, and conditions name
a predicate; both are listed in gd2/volgen/build.py (``Context.fields``,
``PREDICATES``). Whether a rule's xlator is switched on or off
by a volume option is not said here: the option catalogue
(gd2/volgen/options.py) says it, so there is one place for each fact.

Options that a volume option key drives belong in the catalogue, with their
default, not here; these are the options glusterd1 writes whatever the
volume's settings are (gfs: glusterd-volgen.c, ``brick_graph_add_*``,
``volgen_graph_build_client``, ``volgen_graph_build_afr_clusters``...).

Adding an xlator to a graph is adding a rule to its stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gd2.volgen.options import GraphKind


@dataclass(frozen=True)
class Opt:
    """A fixed option: ``name`` and ``value`` are templates; ``when`` names a predicate."""

    name: str
    value: str
    when: str | None = None


@dataclass(frozen=True)
class XlatorRule:
    """One xlator of a graph."""

    type: str
    options: tuple[Opt, ...] = ()
    when: str | None = None
    # glusterd1's volgen_graph_add: "<volume>-<last component of the type>".
    name: str = "{volume}-{leaf}"


# --- Brick graph, bottom (posix) to top (protocol/server); gfs: server_graph_table.
BRICK_STACK: tuple[XlatorRule, ...] = (
    XlatorRule("storage/posix", (
        Opt("directory", "{brick_path}"),
        Opt("volume-id", "{volume_id}"),
        Opt("shared-brick-count", "{shared_brick_count}"),
        Opt("update-link-count-parent", "on", when="link_count_parent"),
    )),
    XlatorRule("features/arbiter", when="arbiter_brick"),
    XlatorRule("features/trash", (Opt("brick-path", "{brick_path}"),)),
    XlatorRule("features/changelog", (
        Opt("changelog-brick", "{brick_path}"),
        Opt("changelog-dir", "{brick_path}/.glusterfs/changelogs"),
        # On only with bitrot, whose plugin (plugins/bitrot) switches it and the stub on.
        Opt("changelog-notification", "off"),
    )),
    XlatorRule("features/bitrot-stub", (Opt("export", "{brick_path}"), Opt("bitrot", "disable"))),
    XlatorRule("features/access-control"),
    XlatorRule("features/locks"),
    XlatorRule("features/worm"),
    XlatorRule("features/read-only"),
    XlatorRule("features/leases"),
    XlatorRule("features/upcall"),
    XlatorRule("performance/io-threads"),
    XlatorRule("features/selinux"),
    XlatorRule("features/marker", (
        Opt("volume-uuid", "{volume_id}"),
        Opt("timestamp-file", "{workdir}/vols/{volume}/marker.tstamp"),
        Opt("quota-version", "0"),
        # Quota and geo-replication indexing are not managed yet: their keys
        # are not in the catalogue, so their glusterd1 defaults are fixed here.
        Opt("xtime", "off"),
        Opt("gsync-force-xtime", "off"),
        Opt("quota", "off"),
        Opt("inode-quota", "off"),
    )),
    XlatorRule("features/barrier"),
    XlatorRule("features/index", (
        Opt("index-base", "{brick_path}/.glusterfs/indices"),
        Opt("xattrop-dirty-watchlist", "trusted.afr.dirty", when="afr_or_plain_volume"),
        Opt("xattrop-pending-watchlist", "trusted.afr.{volume}-", when="afr_or_plain_volume"),
        Opt("xattrop64-watchlist", "trusted.ec.dirty", when="disperse_volume"),
    )),
    XlatorRule("features/quota", (
        Opt("volume-uuid", "{volume}"),
        Opt("server-quota", "off"),
        Opt("deem-statfs", "off"),
    )),
    XlatorRule("features/cdc", (Opt("mode", "server"),)),
    XlatorRule("features/namespace"),
    XlatorRule("features/sdfs", (Opt("pass-through", "false"),)),
    # Its name is the brick path: the server's child, the clients'
    # remote-subvolume, the PORTBYBRICK key and the SIGNIN name all are.
    XlatorRule("debug/io-stats", (
        Opt("unique-id", "{brick_path}"),
        Opt("volume-id", "{volume_id}"),
    ), name="{brick_path}"),
    XlatorRule("protocol/server", (
        Opt("transport-type", "{transport}"),
        # Several nodes share one machine in tests, each on its own address.
        Opt("transport.socket.bind-address", "{bind_address}", when="bind_address"),
        Opt("auth.login.{brick_path}.allow", "{username}"),
        Opt("auth.login.{username}.password", "{password}"),
        Opt("auth-path", "{brick_path}"),
    )),
)

# --- Client and shd graphs: the per-brick clients and the clusters above them.
CLIENT_RULE = XlatorRule("protocol/client", (
    Opt("remote-host", "{remote_host}"),
    Opt("remote-subvolume", "{remote_subvolume}"),
    Opt("transport-type", "{client_transport}"),
    Opt("username", "{username}", when="trusted"),
    Opt("password", "{password}", when="trusted"),
    Opt("send-gids", "{send_gids}", when="fuse_client"),
), name="{volume}-client-{index}")

REPLICATE_RULE = XlatorRule("cluster/replicate", (
    # AFR names its pending xattrs after these, not after its children's names.
    Opt("afr-pending-xattr", "{afr_pending_xattr}"),
    Opt("volume-id", "{volume_id}"),
    Opt("arbiter-count", "{arbiter_count}", when="arbiter_volume"),
    Opt("iam-self-heal-daemon", "yes", when="shd"),
), name="{volume}-replicate-{index}")

DISPERSE_RULE = XlatorRule("cluster/disperse", (
    Opt("redundancy", "{redundancy}"),
    Opt("iam-self-heal-daemon", "yes", when="shd"),
), name="{volume}-disperse-{index}")

# glusterd1 adds DHT even over a single subvolume.
DHT_RULE = XlatorRule("cluster/distribute", name="{volume}-dht")

# --- Client graph above DHT, bottom to top; gfs: client_graph_builder, and the
# performance xlators in glusterd_volopt_map order.
CLIENT_STACK: tuple[XlatorRule, ...] = (
    XlatorRule("features/shard"),
    XlatorRule("features/utime"),
    XlatorRule("features/cdc", (Opt("mode", "client"),)),
    XlatorRule("performance/write-behind"),
    XlatorRule("performance/read-ahead"),
    # performance.parallel-readdir (readdir-ahead under DHT) is not supported;
    # glusterd1 writes its default here.
    XlatorRule("performance/readdir-ahead", (Opt("parallel-readdir", "off"),)),
    XlatorRule("performance/io-cache"),
    XlatorRule("performance/open-behind"),
    XlatorRule("performance/quick-read"),
    XlatorRule("performance/nl-cache"),
    XlatorRule("performance/md-cache"),
    XlatorRule("performance/io-threads"),
    XlatorRule("debug/io-stats", name="{volume}"),
)

# --- Self-heal daemon: io-stats named after the volume, straight over the clusters.
SHD_TOP = XlatorRule("debug/io-stats", name="{volume}")

# Volume options per graph, above the catalogue's defaults: the volume's own
# settings win over GRAPH_DEFAULTS and lose to GRAPH_OVERRIDES.
# The shd needs the three *-self-heal options on, or it finds heals and does
# none (GLUSTER_PROTOCOL.md §7.5); gfs: glusterd-shd-svc.c, volgen_set_shd_key_enable.
GRAPH_DEFAULTS: Mapping[GraphKind, Mapping[str, str]] = {
    GraphKind.SHD: {
        "cluster.self-heal-daemon": "enable",
        "cluster.disperse-self-heal-daemon": "enable",
    },
}
GRAPH_OVERRIDES: Mapping[GraphKind, Mapping[str, str]] = {
    GraphKind.SHD: {
        "cluster.background-self-heal-count": "0",
        "cluster.data-self-heal": "on",
        "cluster.metadata-self-heal": "on",
        "cluster.entry-self-heal": "on",
    },
}

# The xlator stacks each graph is made of, for consistency checks.
STACKS: Mapping[GraphKind, tuple[XlatorRule, ...]] = {
    GraphKind.BRICK: BRICK_STACK,
    GraphKind.CLIENT: (CLIENT_RULE, REPLICATE_RULE, DISPERSE_RULE, DHT_RULE, *CLIENT_STACK),
    GraphKind.SHD: (CLIENT_RULE, REPLICATE_RULE, DISPERSE_RULE, SHD_TOP),
}
