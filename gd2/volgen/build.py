"""Build the brick, client and self-heal daemon graphs of a volume.

The structure that depends on the volume's shape (one client per brick,
replica/disperse sets, DHT) is built here; everything else comes from the
rules (gd2/volgen/rules.py) and the option catalogue (gd2/volgen/options.py).
A graph is built in two passes, as glusterd1 does: first the xlators with
their fixed options, then the volume options, each set on every xlator of its
target type. Pure: a volume record in, a graph or volfile text out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gd2.api.models import Brick, Volume
from gd2.errors import InvalidRequest
from gd2.volgen.extra import ExtraXlator, apply_extra
from gd2.volgen.graph import Graph, Xlator, render
from gd2.volgen.options import CATALOGUE, GraphKind, Transform, VolumeOption
from gd2.volgen.rules import (
    BRICK_STACK,
    CLIENT_RULE,
    CLIENT_STACK,
    DHT_RULE,
    DISPERSE_RULE,
    GRAPH_DEFAULTS,
    GRAPH_OVERRIDES,
    REPLICATE_RULE,
    SHD_TOP,
    XlatorRule,
)

DEFAULT_WORKDIR = "/var/lib/glusterd2"

_TRUE = frozenset({"1", "on", "yes", "true", "enable"})
_FALSE = frozenset({"0", "off", "no", "false", "disable"})


def parse_bool(key: str, value: str) -> bool:
    """A boolean option value, read as glusterd1's gf_string2boolean does."""
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InvalidRequest(f"option {key}: {value!r} is not a boolean (on/off)", {key: "not a boolean"})


@dataclass(frozen=True)
class Context:
    """What one graph is built for."""

    kind: GraphKind
    volume: Volume
    brick: Brick | None = None
    trusted: bool = False
    workdir: str = DEFAULT_WORKDIR
    shared_brick_count: int = 1
    bind_address: str | None = None
    fields: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        volume = self.volume
        transport = volume.transport
        fields = {
            "volume": volume.name,
            "volume_id": volume.id,
            "username": volume.auth.username,
            "password": volume.auth.password,
            "transport": transport,
            "client_transport": "tcp" if "tcp" in transport.split(",") else transport,
            "send_gids": "false" if self.is_on("server.manage-gids") else "true",
            "arbiter_count": str(volume.arbiter_count),
            "redundancy": str(volume.redundancy_count),
            "workdir": self.workdir,
            "shared_brick_count": str(self.shared_brick_count),
        }
        if self.brick is not None:
            fields |= {"brick_path": self.brick.path, "brick_host": self.brick.host}
        if self.bind_address is not None:
            fields["bind_address"] = self.bind_address
        object.__setattr__(self, "fields", fields)

    def value(self, key: str, default: str | None) -> tuple[str | None, bool]:
        """The value of option ``key`` in this graph, and whether it was set rather than defaulted."""
        overrides = GRAPH_OVERRIDES.get(self.kind, {})
        if key in overrides:
            return overrides[key], True
        if key in self.volume.options:
            return self.volume.options[key], True
        graph_defaults = GRAPH_DEFAULTS.get(self.kind, {})
        if key in graph_defaults:
            return graph_defaults[key], True
        return default, False

    def is_on(self, key: str, default: str = "off") -> bool:
        value, _ = self.value(key, default)
        return parse_bool(key, value or default)


PREDICATES: Mapping[str, Callable[[Context], bool]] = {
    "arbiter_brick": lambda ctx: ctx.brick is not None and ctx.brick.arbiter,
    "arbiter_volume": lambda ctx: ctx.volume.arbiter_count > 0,
    "afr_or_plain_volume": lambda ctx: ctx.volume.disperse_count == 0,
    "disperse_volume": lambda ctx: ctx.volume.disperse_count > 0,
    "link_count_parent": lambda ctx: any(
        ctx.is_on(key) for key in ("features.quota", "features.trash", "storage.build-pgfid")),
    "bind_address": lambda ctx: ctx.bind_address is not None,
    "trusted": lambda ctx: ctx.trusted,
    "fuse_client": lambda ctx: ctx.kind is GraphKind.CLIENT,
    "shd": lambda ctx: ctx.kind is GraphKind.SHD,
}


def _holds(ctx: Context, predicate: str | None) -> bool:
    return predicate is None or PREDICATES[predicate](ctx)


def _toggles(xlator_type: str, kind: GraphKind) -> Iterable[VolumeOption]:
    return (spec for spec in CATALOGUE
            if any(t.toggles and t.xlator == xlator_type and kind in t.graphs for t in spec.targets))


def _enabled(ctx: Context, rule: XlatorRule) -> bool:
    """The rule's condition holds and every key toggling its xlator in this graph is on."""
    if not _holds(ctx, rule.when):
        return False
    for spec in _toggles(rule.type, ctx.kind):
        value, _ = ctx.value(spec.key, spec.default)
        if value is None or not parse_bool(spec.key, value):
            return False
    return True


def _instantiate(graph: Graph, ctx: Context, rule: XlatorRule, children: Sequence[Xlator],
                 extra: Mapping[str, str] | None = None) -> Xlator:
    fields = {**ctx.fields, "leaf": rule.type.rsplit("/", 1)[-1], **(extra or {})}
    options = {opt.name.format_map(fields): opt.value.format_map(fields)
               for opt in rule.options if _holds(ctx, opt.when)}
    return graph.add(rule.name.format_map(fields), rule.type, children, options)


def _stack(graph: Graph, ctx: Context, rules: Iterable[XlatorRule]) -> None:
    for rule in rules:
        if _enabled(ctx, rule):
            _instantiate(graph, ctx, rule, graph.xlators[-1:])


def _apply_options(graph: Graph, ctx: Context) -> None:
    """Set each catalogue key's options on every xlator of the target type (glusterd1's basic handler)."""
    for spec in CATALOGUE:
        value, explicit = ctx.value(spec.key, spec.default)
        if value is None:
            continue
        if "\n" in value:
            raise InvalidRequest(f"option {spec.key}: the value contains a newline", {spec.key: "invalid"})
        for target in spec.targets:
            if target.option is None or ctx.kind not in target.graphs:
                continue
            if not explicit and not target.writes_default:
                continue
            name = target.option.format_map(ctx.fields)
            written = value
            if target.transform is Transform.ON_OFF:
                written = "on" if parse_bool(spec.key, value) else "off"
            for xl in graph.of_type(target.xlator):
                xl.set(name, written)


def _set_size(volume: Volume) -> tuple[XlatorRule | None, int]:
    """The cluster rule and bricks per set: (None, 1) for plain distribute."""
    if volume.replica_count > 1:
        rule, size = REPLICATE_RULE, volume.replica_count
    elif volume.disperse_count > 0:
        rule, size = DISPERSE_RULE, volume.disperse_count
    else:
        return None, 1
    if not volume.bricks or len(volume.bricks) % size:
        raise InvalidRequest(
            f"volume {volume.name}: {len(volume.bricks)} bricks do not make sets of {size}", {"bricks": "count"})
    return rule, size


def _clients_and_clusters(graph: Graph, ctx: Context) -> list[Xlator]:
    """One protocol/client per brick, then the replicate/disperse sets; returns DHT's children."""
    volume = ctx.volume
    if not volume.bricks:
        raise InvalidRequest(f"volume {volume.name} has no bricks", {"bricks": "empty"})
    clients = [
        _instantiate(graph, ctx, CLIENT_RULE, (), {
            "index": str(index), "remote_host": brick.host, "remote_subvolume": brick.path})
        for index, brick in enumerate(volume.bricks)
    ]
    rule, size = _set_size(volume)
    if rule is None:
        return clients
    clusters = []
    for index, start in enumerate(range(0, len(clients), size)):
        members = clients[start:start + size]
        clusters.append(_instantiate(graph, ctx, rule, members, {
            "index": str(index), "afr_pending_xattr": ",".join(xl.name for xl in members)}))
    return clusters


def _check_brick(volume: Volume, brick: Brick) -> None:
    if not any(b.id == brick.id and b.host == brick.host and b.path == brick.path for b in volume.bricks):
        raise InvalidRequest(f"brick {brick.name} is not a brick of volume {volume.name}", {"brick": brick.name})


def brick_graph(volume: Volume, brick: Brick, *, workdir: str = DEFAULT_WORKDIR,
                shared_brick_count: int = 1, bind: bool = True, extra: Sequence[ExtraXlator] = ()) -> Graph:
    """The graph glusterfsd runs for ``brick``: posix → … → io-stats(<brick path>) → <vol>-server.

    ``shared_brick_count`` is how many of the volume's bricks on this node
    share the brick's filesystem (glusterd1 compares statfs fsids; posix
    divides the reported size by it). With ``bind`` the server listens on
    the brick's host address only. The listen port is not in the volfile:
    it goes on the command line (GLUSTER_PROTOCOL.md §6.1).
    """
    _check_brick(volume, brick)
    ctx = Context(GraphKind.BRICK, volume, brick, workdir=workdir, shared_brick_count=shared_brick_count,
                  bind_address=brick.host if bind else None)
    graph = Graph()
    _stack(graph, ctx, BRICK_STACK)
    _apply_options(graph, ctx)
    apply_extra(graph, ctx.kind, extra, ctx.fields, ctx.is_on)
    return graph


def client_graph(volume: Volume, *, trusted: bool = False, extra: Sequence[ExtraXlator] = ()) -> Graph:
    """The FUSE/gfapi graph; ``trusted`` adds the volume's credentials to each client."""
    ctx = Context(GraphKind.CLIENT, volume, trusted=trusted)
    graph = Graph()
    subvolumes = _clients_and_clusters(graph, ctx)
    _instantiate(graph, ctx, DHT_RULE, subvolumes)
    _stack(graph, ctx, CLIENT_STACK)
    _apply_options(graph, ctx)
    apply_extra(graph, ctx.kind, extra, ctx.fields, ctx.is_on)
    return graph


def needs_shd(volume: Volume) -> bool:
    """Whether glusterd1 would run a self-heal daemon for this volume."""
    if volume.replica_count > 1:
        key = "cluster.self-heal-daemon"
    elif volume.disperse_count > 0:
        key = "cluster.disperse-self-heal-daemon"
    else:
        return False
    return parse_bool(key, volume.options.get(key, "on"))


def shd_graph(volume: Volume) -> Graph:
    """The self-heal daemon's graph: trusted clients, the sets, io-stats(<vol>) on top; no DHT."""
    if _set_size(volume)[0] is None:
        raise InvalidRequest(f"volume {volume.name} is neither replicate nor disperse: it has no self-heal daemon",
                             {"type": str(volume.type)})
    ctx = Context(GraphKind.SHD, volume, trusted=True)
    graph = Graph()
    clusters = _clients_and_clusters(graph, ctx)
    _instantiate(graph, ctx, SHD_TOP, clusters)
    _apply_options(graph, ctx)
    return graph


def brick_volfile(volume: Volume, brick: Brick, *, workdir: str = DEFAULT_WORKDIR,
                  shared_brick_count: int = 1, bind: bool = True, extra: Sequence[ExtraXlator] = ()) -> str:
    """The volfile text of :func:`brick_graph`."""
    return render(brick_graph(volume, brick, workdir=workdir, shared_brick_count=shared_brick_count, bind=bind,
                              extra=extra))


def client_volfile(volume: Volume, trusted: bool = False, extra: Sequence[ExtraXlator] = ()) -> str:
    """The volfile text of :func:`client_graph`."""
    return render(client_graph(volume, trusted=trusted, extra=extra))


def shd_volfile(volume: Volume) -> str:
    """The volfile text of :func:`shd_graph`."""
    return render(shd_graph(volume))


__all__ = [
    "DEFAULT_WORKDIR",
    "PREDICATES",
    "Context",
    "brick_graph",
    "brick_volfile",
    "client_graph",
    "client_volfile",
    "needs_shd",
    "parse_bool",
    "shd_graph",
    "shd_volfile",
]
