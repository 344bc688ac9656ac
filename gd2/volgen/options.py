"""The catalogue of volume option keys (``gluster volume set`` keys) volgen honours.

Each key says which xlator(s) it drives in which graph: either an xlator
option it sets, or that it switches an xlator on or off. The keys, their
targets and their defaults follow glusterd1 10.x (gfs: glusterd-volume-set.c,
``glusterd_volopt_map``; glusterd-volgen.c for the keys with special
handling). Volgen applies them the way glusterd1 does: an option key sets its
option on *every* xlator of the target type in the graphs listed.

``default`` is what volgen writes when the volume does not set the key
(glusterd1's ``.value``). ``None`` means volgen writes nothing and the
xlator's own default applies; the option validator reads that, and the real
types and ranges, from the installed xlators' option tables. ``kind`` and
``choices`` are only hints for it.

Adding a key is adding an entry here; adding a toggle also needs the xlator
in the graph's rules (gd2/volgen/rules.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gd2.api.models import VolumeType


class GraphKind(StrEnum):
    """The volfiles volgen writes."""

    BRICK = "brick"
    CLIENT = "client"  # FUSE/gfapi, trusted or not
    SHD = "shd"  # self-heal daemon


class ValueKind(StrEnum):
    """What a value looks like; a hint for the validator."""

    BOOL = "bool"
    INT = "int"
    SIZE = "size"  # bytes with an optional KB/MB/GB/TB suffix
    PERCENT = "percent"
    PERCENT_OR_SIZE = "percent-or-size"
    TIME = "time"  # seconds
    ENUM = "enum"  # one of ``choices``
    STRING = "string"
    ADDRESS_LIST = "address-list"  # comma-separated addresses/wildcards


class Transform(StrEnum):
    """How a value is rewritten for one target."""

    NONE = "none"
    ON_OFF = "on-off"  # any boolean word → "on"/"off"


@dataclass(frozen=True)
class Target:
    """One xlator option a key sets, or (``option`` None) the xlator it toggles.

    ``option`` may name template fields filled per graph: ``{brick_path}``,
    ``{volume}``.
    """

    xlator: str
    option: str | None
    graphs: frozenset[GraphKind]
    transform: Transform = Transform.NONE
    # False when glusterd1 writes this target only for an explicitly set key.
    writes_default: bool = True

    @property
    def toggles(self) -> bool:
        return self.option is None


@dataclass(frozen=True)
class VolumeOption:
    """One volume option key and what it drives."""

    key: str
    targets: tuple[Target, ...]
    default: str | None
    kind: ValueKind
    choices: tuple[str, ...] = ()
    description: str = ""

    @property
    def graphs(self) -> frozenset[GraphKind]:
        """The graphs this key changes (empty: stored but drives no volfile volgen writes)."""
        return frozenset(g for t in self.targets for g in t.graphs)


_B = frozenset({GraphKind.BRICK})
_C = frozenset({GraphKind.CLIENT})
_CS = frozenset({GraphKind.CLIENT, GraphKind.SHD})
_BC = frozenset({GraphKind.BRICK, GraphKind.CLIENT})

# Where glusterd1's by-type option handlers reach an xlator type. The shd
# applies volume options only to its clients and cluster xlators.
_GRAPHS_OF_TYPE: Mapping[str, frozenset[GraphKind]] = {
    "protocol/client": _CS,
    "cluster/replicate": _CS,
    "cluster/disperse": _CS,
    "cluster/distribute": _C,
    "features/utime": _C,
    "features/shard": _C,
    "performance/io-threads": _BC,
    "debug/io-stats": _BC,
}


def _graphs(xlator: str) -> frozenset[GraphKind]:
    if xlator in _GRAPHS_OF_TYPE:
        return _GRAPHS_OF_TYPE[xlator]
    return _C if xlator.startswith("performance/") else _B


def _set(xlator: str, option: str, graphs: frozenset[GraphKind] | None = None, *,
         transform: Transform = Transform.NONE, writes_default: bool = True) -> Target:
    return Target(xlator, option, graphs if graphs is not None else _graphs(xlator), transform, writes_default)


def _toggle(xlator: str, graphs: frozenset[GraphKind] | None = None) -> Target:
    return Target(xlator, None, graphs if graphs is not None else _graphs(xlator))


def _opt(key: str, *targets: Target, default: str | None = None, kind: ValueKind = ValueKind.STRING,
         choices: tuple[str, ...] = (), description: str = "") -> VolumeOption:
    return VolumeOption(key, targets, default, kind, choices, description)


_BOOL = ValueKind.BOOL
_INT = ValueKind.INT
_SIZE = ValueKind.SIZE
_TIME = ValueKind.TIME
_ENUM = ValueKind.ENUM
_STR = ValueKind.STRING

_LOG_LEVELS = ("DEBUG", "WARNING", "ERROR", "INFO", "CRITICAL", "NONE", "TRACE")
_BOOL_WORDS = ("on", "off", "yes", "no", "true", "false", "enable", "disable", "1", "0")

AFR = "cluster/replicate"
EC = "cluster/disperse"
DHT = "cluster/distribute"
CLIENT = "protocol/client"
SERVER = "protocol/server"
IO_STATS = "debug/io-stats"
POSIX = "storage/posix"

# In glusterd1's table order where it matters: a later key setting the same
# xlator option wins (performance.cache-size over performance.io-cache-size).
CATALOGUE: tuple[VolumeOption, ...] = (
    # --- DHT
    _opt("cluster.lookup-unhashed", _set(DHT, "lookup-unhashed"), kind=_ENUM, choices=("auto", *_BOOL_WORDS)),
    _opt("cluster.lookup-optimize", _set(DHT, "lookup-optimize"), kind=_BOOL),
    _opt("cluster.min-free-disk", _set(DHT, "min-free-disk"), kind=ValueKind.PERCENT_OR_SIZE),
    _opt("cluster.min-free-inodes", _set(DHT, "min-free-inodes"), kind=ValueKind.PERCENT),
    _opt("cluster.subvols-per-directory", _set(DHT, "directory-layout-spread"), kind=_INT),
    _opt("cluster.readdir-optimize", _set(DHT, "readdir-optimize"), kind=_BOOL),
    _opt("cluster.lock-migration", _set(DHT, "lock-migration"), default="off", kind=_BOOL),
    _opt("cluster.force-migration", _set(DHT, "force-migration"), default="off", kind=_BOOL),
    _opt("cluster.weighted-rebalance", _set(DHT, "weighted-rebalance"), kind=_BOOL),
    # --- AFR
    _opt("cluster.read-hash-mode", _set(AFR, "read-hash-mode"), kind=_INT),
    _opt("cluster.background-self-heal-count", _set(AFR, "background-self-heal-count"), kind=_INT),
    _opt("cluster.metadata-self-heal", _set(AFR, "metadata-self-heal"), kind=_BOOL),
    _opt("cluster.data-self-heal", _set(AFR, "data-self-heal"), kind=_ENUM, choices=(*_BOOL_WORDS, "open")),
    _opt("cluster.entry-self-heal", _set(AFR, "entry-self-heal"), kind=_BOOL),
    _opt("cluster.self-heal-daemon", _set(AFR, "self-heal-daemon", frozenset({GraphKind.SHD})), kind=_BOOL,
         description="also decides whether the volume's self-heal daemon runs"),
    _opt("cluster.heal-timeout", _set(AFR, "heal-timeout", frozenset({GraphKind.SHD})),
         _set(EC, "heal-timeout", frozenset({GraphKind.SHD})), kind=_INT),
    _opt("cluster.self-heal-window-size", _set(AFR, "data-self-heal-window-size"), kind=_INT),
    _opt("cluster.data-self-heal-algorithm", _set(AFR, "data-self-heal-algorithm"), kind=_ENUM,
         choices=("diff", "full")),
    _opt("cluster.eager-lock", _set(AFR, "eager-lock"), kind=_BOOL),
    _opt("disperse.eager-lock", _set(EC, "eager-lock"), kind=_BOOL),
    _opt("disperse.other-eager-lock", _set(EC, "other-eager-lock"), kind=_BOOL),
    _opt("cluster.quorum-type", _set(AFR, "quorum-type"), kind=_ENUM, choices=("none", "auto", "fixed")),
    _opt("cluster.quorum-count", _set(AFR, "quorum-count"), kind=_INT),
    _opt("cluster.choose-local", _set(AFR, "choose-local"), kind=_BOOL),
    _opt("cluster.consistent-metadata", _set(AFR, "consistent-metadata"), kind=_BOOL),
    _opt("cluster.heal-wait-queue-length", _set(AFR, "heal-wait-queue-length"), kind=_INT),
    _opt("cluster.favorite-child-policy", _set(AFR, "favorite-child-policy"), kind=_ENUM,
         choices=("none", "size", "ctime", "mtime", "majority")),
    # --- io-stats
    _opt("diagnostics.latency-measurement", _set(IO_STATS, "latency-measurement"), default="off", kind=_BOOL),
    _opt("diagnostics.dump-fd-stats", _set(IO_STATS, "dump-fd-stats"), kind=_BOOL),
    _opt("diagnostics.count-fop-hits", _set(IO_STATS, "count-fop-hits"), default="off", kind=_BOOL),
    _opt("diagnostics.brick-log-level", _set(IO_STATS, "log-level", _B), default="INFO", kind=_ENUM,
         choices=_LOG_LEVELS),
    _opt("diagnostics.client-log-level", _set(IO_STATS, "log-level", _CS), default="INFO", kind=_ENUM,
         choices=_LOG_LEVELS),
    _opt("diagnostics.stats-dump-interval", _set(IO_STATS, "ios-dump-interval"), kind=_INT),
    _opt("diagnostics.fop-sample-interval", _set(IO_STATS, "ios-sample-interval"), kind=_INT),
    # --- io-cache
    _opt("performance.cache-max-file-size", _set("performance/io-cache", "max-file-size"), kind=_SIZE),
    _opt("performance.cache-min-file-size", _set("performance/io-cache", "min-file-size"), kind=_SIZE),
    _opt("performance.cache-refresh-timeout", _set("performance/io-cache", "cache-timeout"), kind=_INT),
    _opt("performance.io-cache-size", _set("performance/io-cache", "cache-size"), kind=_SIZE),
    _opt("performance.cache-size", _set("performance/io-cache", "cache-size"),
         _set("performance/quick-read", "cache-size"), kind=_SIZE,
         description="deprecated: sets both io-cache's and quick-read's cache size"),
    # --- io-threads (the brick's, and the client's when performance.client-io-threads is on)
    _opt("performance.io-thread-count", _set("performance/io-threads", "thread-count"), kind=_INT),
    _opt("performance.high-prio-threads", _set("performance/io-threads", "high-prio-threads"), kind=_INT),
    _opt("performance.normal-prio-threads", _set("performance/io-threads", "normal-prio-threads"), kind=_INT),
    _opt("performance.low-prio-threads", _set("performance/io-threads", "low-prio-threads"), kind=_INT),
    _opt("performance.least-prio-threads", _set("performance/io-threads", "least-prio-threads"), kind=_INT),
    # --- other performance xlators' options
    _opt("performance.quick-read-cache-size", _set("performance/quick-read", "cache-size"), kind=_SIZE),
    _opt("performance.quick-read-cache-timeout", _set("performance/quick-read", "cache-timeout"), kind=_INT),
    _opt("performance.qr-cache-timeout", _set("performance/quick-read", "cache-timeout"), kind=_INT,
         description="deprecated: use performance.quick-read-cache-timeout"),
    _opt("performance.flush-behind", _set("performance/write-behind", "flush-behind"), kind=_BOOL),
    _opt("performance.write-behind-window-size", _set("performance/write-behind", "cache-size"), kind=_SIZE),
    _opt("performance.strict-o-direct", _set("performance/write-behind", "strict-O_DIRECT"), kind=_BOOL),
    _opt("performance.strict-write-ordering", _set("performance/write-behind", "strict-write-ordering"),
         kind=_BOOL),
    _opt("performance.write-behind-trickling-writes", _set("performance/write-behind", "trickling-writes"),
         kind=_BOOL),
    _opt("performance.aggregate-size", _set("performance/write-behind", "aggregate-size"), kind=_SIZE),
    _opt("performance.lazy-open", _set("performance/open-behind", "lazy-open"), kind=_BOOL),
    _opt("performance.read-after-open", _set("performance/open-behind", "read-after-open"), kind=_BOOL),
    _opt("performance.read-ahead-page-count", _set("performance/read-ahead", "page-count"), kind=_INT),
    _opt("performance.md-cache-timeout", _set("performance/md-cache", "md-cache-timeout"), kind=_INT),
    _opt("performance.cache-samba-metadata", _set("performance/md-cache", "cache-samba-metadata"), kind=_BOOL),
    _opt("performance.md-cache-statfs", _set("performance/md-cache", "md-cache-statfs"), kind=_BOOL),
    _opt("performance.xattr-cache-list", _set("performance/md-cache", "xattr-cache-list"), kind=_STR),
    # --- protocol/client
    _opt("network.frame-timeout", _set(CLIENT, "frame-timeout"), kind=_TIME),
    _opt("network.ping-timeout", _set(CLIENT, "ping-timeout"), default="42", kind=_TIME),
    _opt("network.tcp-window-size", _set(CLIENT, "tcp-window-size"), _set(SERVER, "tcp-window-size"), kind=_SIZE),
    _opt("client.ssl", _set(CLIENT, "transport.socket.ssl-enabled"), default="off", kind=_BOOL),
    _opt("network.remote-dio", _set(CLIENT, "filter-O_DIRECT"), kind=_BOOL),
    _opt("client.event-threads", _set(CLIENT, "event-threads"), kind=_INT),
    _opt("client.tcp-user-timeout", _set(CLIENT, "transport.tcp-user-timeout"), default="0", kind=_TIME),
    _opt("client.keepalive-time", _set(CLIENT, "transport.socket.keepalive-time"), default="20", kind=_INT),
    _opt("client.keepalive-interval", _set(CLIENT, "transport.socket.keepalive-interval"), default="2",
         kind=_INT),
    _opt("client.keepalive-count", _set(CLIENT, "transport.socket.keepalive-count"), default="9", kind=_INT),
    _opt("client.strict-locks", _set(CLIENT, "strict-locks"), default="off", kind=_BOOL),
    # --- protocol/server
    _opt("network.inode-lru-limit", _set(SERVER, "inode-lru-limit"), kind=_INT),
    _opt("auth.allow", _set(SERVER, "auth.addr.{brick_path}.allow"), default="*", kind=ValueKind.ADDRESS_LIST),
    _opt("auth.reject", _set(SERVER, "auth.addr.{brick_path}.reject"), kind=ValueKind.ADDRESS_LIST),
    _opt("transport.keepalive", _set(SERVER, "transport.socket.keepalive"), default="1", kind=_BOOL),
    _opt("server.allow-insecure", _set(SERVER, "rpc-auth-allow-insecure"), kind=_BOOL),
    _opt("server.root-squash", _set(SERVER, "root-squash"), kind=_BOOL),
    _opt("server.all-squash", _set(SERVER, "all-squash"), kind=_BOOL),
    _opt("server.anonuid", _set(SERVER, "anonuid"), kind=_INT),
    _opt("server.anongid", _set(SERVER, "anongid"), kind=_INT),
    _opt("server.statedump-path", _set(SERVER, "statedump-path"), kind=_STR),
    _opt("server.outstanding-rpc-limit", _set(SERVER, "rpc.outstanding-rpc-limit"), kind=_INT),
    _opt("server.ssl", _set(SERVER, "transport.socket.ssl-enabled"), default="off", kind=_BOOL),
    _opt("server.manage-gids", _set(SERVER, "manage-gids"), kind=_BOOL,
         description="also turns the clients' send-gids off"),
    _opt("server.dynamic-auth", _set(SERVER, "dynamic-auth"), kind=_BOOL),
    _opt("server.gid-timeout", _set(SERVER, "gid-timeout"), kind=_INT),
    _opt("server.event-threads", _set(SERVER, "event-threads"), kind=_INT),
    _opt("server.tcp-user-timeout", _set(SERVER, "transport.tcp-user-timeout"), kind=_TIME),
    _opt("server.keepalive-time", _set(SERVER, "transport.socket.keepalive-time"), default="20", kind=_INT),
    _opt("server.keepalive-interval", _set(SERVER, "transport.socket.keepalive-interval"), default="2",
         kind=_INT),
    _opt("server.keepalive-count", _set(SERVER, "transport.socket.keepalive-count"), default="9", kind=_INT),
    _opt("transport.listen-backlog", _set(SERVER, "transport.listen-backlog"), default="1024", kind=_INT),
    _opt("transport.address-family", _set(CLIENT, "transport.address-family"),
         _set(SERVER, "transport.address-family"), kind=_ENUM, choices=("inet", "inet6"),
         description="glusterd1 stores inet at volume create; unset, the sockets default to inet"),
    # --- performance xlators on/off, in the order they stack (bottom first)
    _opt("performance.write-behind", _toggle("performance/write-behind"), default="on", kind=_BOOL),
    _opt("performance.read-ahead", _toggle("performance/read-ahead"), default="off", kind=_BOOL),
    _opt("performance.readdir-ahead", _toggle("performance/readdir-ahead"), default="off", kind=_BOOL),
    _opt("performance.io-cache", _toggle("performance/io-cache"), default="off", kind=_BOOL),
    _opt("performance.open-behind", _toggle("performance/open-behind"), default="on", kind=_BOOL),
    _opt("performance.quick-read", _toggle("performance/quick-read"), default="on", kind=_BOOL),
    _opt("performance.nl-cache", _toggle("performance/nl-cache"), default="off", kind=_BOOL),
    _opt("performance.stat-prefetch", _toggle("performance/md-cache"), default="on", kind=_BOOL,
         description="the md-cache xlator"),
    _opt("performance.client-io-threads", _toggle("performance/io-threads", _C), default="on", kind=_BOOL,
         description="io-threads in the client graph; glusterd1 stores off at create for replicate volumes"),
    _opt("performance.force-readdirp", _set("performance/md-cache", "force-readdirp"), kind=_BOOL),
    _opt("performance.cache-invalidation", _set("performance/md-cache", "cache-invalidation"), kind=_BOOL),
    _opt("performance.global-cache-invalidation", _set("performance/md-cache", "global-cache-invalidation"),
         kind=_BOOL),
    # --- compression, namespaces
    _opt("network.compression", _toggle("features/cdc", _BC), default="off", kind=_BOOL),
    _opt("features.tag-namespaces", _toggle("features/namespace"), _set("features/namespace", "tag-namespaces"),
         default="off", kind=_BOOL),
    # --- features
    _opt("features.read-only", _set("features/read-only", "read-only"), default="off", kind=_BOOL),
    _opt("features.worm", _set("features/worm", "worm"), default="off", kind=_BOOL),
    _opt("features.worm-file-level", _set("features/worm", "worm-file-level"), default="off", kind=_BOOL),
    _opt("features.worm-files-deletable", _set("features/worm", "worm-files-deletable"), default="on",
         kind=_BOOL),
    _opt("features.default-retention-period", _set("features/worm", "default-retention-period"), kind=_INT),
    _opt("features.retention-mode", _set("features/worm", "retention-mode"), kind=_ENUM,
         choices=("relax", "enterprise")),
    _opt("features.auto-commit-period", _set("features/worm", "auto-commit-period"), kind=_INT),
    _opt("storage.linux-aio", _set(POSIX, "linux-aio"), kind=_BOOL),
    _opt("storage.batch-fsync-mode", _set(POSIX, "batch-fsync-mode"), kind=_ENUM,
         choices=("none", "syncfs", "syncfs-single-fsync", "syncfs-reverse-fsync", "reverse-fsync")),
    _opt("storage.batch-fsync-delay-usec", _set(POSIX, "batch-fsync-delay-usec"), kind=_INT),
    _opt("storage.owner-uid", _set(POSIX, "brick-uid"), kind=_INT),
    _opt("storage.owner-gid", _set(POSIX, "brick-gid"), kind=_INT),
    _opt("storage.node-uuid-pathinfo", _set(POSIX, "node-uuid-pathinfo"), kind=_BOOL),
    _opt("storage.health-check-interval", _set(POSIX, "health-check-interval"), kind=_INT),
    _opt("storage.build-pgfid", _set(POSIX, "update-link-count-parent"), kind=_BOOL),
    _opt("storage.gfid2path", _set(POSIX, "gfid2path"), kind=_BOOL),
    _opt("storage.reserve", _set(POSIX, "reserve"), kind=ValueKind.PERCENT_OR_SIZE),
    _opt("storage.fips-mode-rchecksum", _set(POSIX, "fips-mode-rchecksum"), default="on", kind=_BOOL),
    _opt("storage.max-hardlinks", _set(POSIX, "max-hardlinks"), kind=_INT),
    _opt("features.ctime", _toggle("features/utime"), _set(POSIX, "ctime", writes_default=False),
         default="on", kind=_BOOL),
    _opt("ctime.noatime", _set("features/utime", "noatime"), default="on", kind=_BOOL),
    _opt("changelog.changelog", _set("features/changelog", "changelog"), kind=_BOOL),
    _opt("changelog.rollover-time", _set("features/changelog", "rollover-time"), kind=_INT),
    _opt("changelog.fsync-interval", _set("features/changelog", "fsync-interval"), kind=_INT),
    _opt("changelog.changelog-barrier-timeout", _set("features/changelog", "changelog-barrier-timeout"),
         default="120", kind=_INT),
    _opt("features.barrier", _set("features/barrier", "barrier"), default="disable", kind=_BOOL),
    _opt("features.barrier-timeout", _set("features/barrier", "barrier-timeout"), default="120", kind=_INT),
    _opt("features.trash", _set("features/trash", "trash"), kind=_BOOL),
    _opt("features.trash-dir", _set("features/trash", "trash-dir"), default=".trashcan", kind=_STR),
    _opt("features.trash-max-filesize", _set("features/trash", "trash-max-filesize"), kind=_SIZE),
    _opt("features.trash-internal-op", _set("features/trash", "trash-internal-op"), default="off", kind=_BOOL),
    _opt("locks.mandatory-locking", _set("features/locks", "mandatory-locking"), kind=_ENUM,
         choices=("off", "file", "forced", "optimal")),
    _opt("features.cache-invalidation", _set("features/upcall", "cache-invalidation"), default="off", kind=_BOOL),
    _opt("features.cache-invalidation-timeout", _set("features/upcall", "cache-invalidation-timeout"),
         kind=_INT),
    _opt("features.leases", _set("features/leases", "leases"), default="off", kind=_BOOL),
    _opt("features.lease-lock-recall-timeout", _set("features/leases", "lease-lock-recall-timeout"), kind=_INT),
    _opt("cluster.disperse-self-heal-daemon", _set(EC, "self-heal-daemon"), kind=_BOOL,
         description="also decides whether a disperse volume's self-heal daemon runs"),
    _opt("cluster.quorum-reads", _set(AFR, "quorum-reads"), kind=_BOOL),
    _opt("features.shard", _toggle("features/shard"), default="off", kind=_BOOL),
    _opt("features.shard-block-size", _set("features/shard", "shard-block-size"), kind=_SIZE),
    _opt("features.shard-lru-limit", _set("features/shard", "shard-lru-limit"), kind=_INT),
    _opt("features.shard-deletion-rate", _set("features/shard", "shard-deletion-rate"), kind=_INT),
    _opt("disperse.background-heals", _set(EC, "background-heals"), kind=_INT),
    _opt("disperse.heal-wait-qlength", _set(EC, "heal-wait-qlength"), kind=_INT),
    _opt("dht.force-readdirp", _set(DHT, "use-readdirp"), kind=_BOOL),
    _opt("disperse.read-policy", _set(EC, "read-policy"), kind=_ENUM, choices=("round-robin", "gfid-hash")),
    _opt("cluster.shd-max-threads", _set(AFR, "shd-max-threads"), kind=_INT),
    _opt("cluster.shd-wait-qlength", _set(AFR, "shd-wait-qlength"), kind=_INT),
    _opt("cluster.locking-scheme", _set(AFR, "locking-scheme"), kind=_ENUM, choices=("full", "granular")),
    _opt("cluster.granular-entry-heal", _set(AFR, "granular-entry-heal"), kind=_BOOL),
    _opt("disperse.shd-max-threads", _set(EC, "shd-max-threads"), kind=_INT),
    _opt("disperse.shd-wait-qlength", _set(EC, "shd-wait-qlength"), kind=_INT),
    _opt("disperse.self-heal-window-size", _set(EC, "self-heal-window-size"), kind=_INT),
    _opt("cluster.use-compound-fops", _set(AFR, "use-compound-fops"), default="off", kind=_BOOL),
    _opt("performance.rda-request-size", _set("performance/readdir-ahead", "rda-request-size"), default="131072",
         kind=_SIZE),
    _opt("performance.rda-cache-limit", _set("performance/readdir-ahead", "rda-cache-limit"), default="10MB",
         kind=_SIZE),
    _opt("performance.nl-cache-positive-entry", _set("performance/nl-cache", "nl-cache-positive-entry"),
         kind=_BOOL),
    _opt("performance.nl-cache-limit", _set("performance/nl-cache", "nl-cache-limit"), default="10MB",
         kind=_SIZE),
    _opt("performance.nl-cache-timeout", _set("performance/nl-cache", "nl-cache-timeout"), kind=_INT),
    _opt("disperse.optimistic-change-log", _set(EC, "optimistic-change-log"), kind=_BOOL),
    _opt("disperse.parallel-writes", _set(EC, "parallel-writes"), kind=_BOOL),
    _opt("disperse.quorum-count", _set(EC, "quorum-count"), kind=_INT),
    _opt("features.selinux", _set("features/selinux", "selinux"), default="on", kind=_BOOL),
    _opt("features.sdfs", _toggle("features/sdfs"), default="off", kind=_BOOL),
    _opt("features.enforce-mandatory-lock", _set("features/locks", "enforce-mandatory-lock"), default="off",
         kind=_BOOL),
    _opt("config.global-threading", _set(IO_STATS, "global-threading"), default="off", kind=_BOOL),
    _opt("config.client-threads", _set(IO_STATS, "threads", _CS), default="16", kind=_INT),
    _opt("config.brick-threads", _set(IO_STATS, "threads", _B), default="16", kind=_INT),
    _opt("features.acl", _toggle("features/access-control"), default="enable", kind=_BOOL,
         description="for debugging only: removes POSIX ACL checks from the bricks"),
    _opt("cluster.use-anonymous-inode", _set(AFR, "use-anonymous-inode"), default="yes", kind=_BOOL),
    # --- flags whose daemons are managed elsewhere.  features.bitrot is the bitrot plugin's
    # (plugins/bitrot, docs/plugins.md): the brick rules write its "off" state.
    _opt("nfs.disable", default="on", kind=_BOOL,
         description="gluster NFS is not run by glusterd2: accepted and stored only"),
)

_BY_KEY: Mapping[str, VolumeOption] = {opt.key: opt for opt in CATALOGUE}

# What glusterd1 10.x stores in a new volume's options (glusterd-utils.c,
# glusterd_enable_default_options; glusterd-volume-ops.c for client-io-threads).
_CREATE_DEFAULTS: Mapping[str, str] = {
    "nfs.disable": "on",
    "transport.address-family": "inet",
    "storage.fips-mode-rchecksum": "on",
}
_CREATE_DEFAULTS_REPLICATE: Mapping[str, str] = {
    "performance.client-io-threads": "off",
    "cluster.granular-entry-heal": "on",
}


def lookup(key: str) -> VolumeOption | None:
    """The catalogue entry of ``key``, or None when volgen does not know it."""
    return _BY_KEY.get(key)


def all_keys() -> tuple[str, ...]:
    """Every key in the catalogue, in catalogue order."""
    return tuple(_BY_KEY)


def create_defaults(volume_type: VolumeType) -> dict[str, str]:
    """The options glusterd1 writes into a volume's record when it is created.

    Volume create stores these so that volfiles (and ``volume info``) match
    glusterd1's for the same volume.
    """
    options = dict(_CREATE_DEFAULTS)
    if volume_type in (VolumeType.REPLICATE, VolumeType.DISTRIBUTED_REPLICATE):
        options.update(_CREATE_DEFAULTS_REPLICATE)
    return options
