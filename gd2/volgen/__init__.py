"""Volfiles built as graphs from composable rules (L0: pure functions on data).

- :mod:`gd2.volgen.graph`: the xlator graph and its volfile text.
- :mod:`gd2.volgen.options`: the volume option keys and the xlators they drive.
- :mod:`gd2.volgen.rules`: the xlators of each graph, as data.
- :mod:`gd2.volgen.build`: brick, client and self-heal daemon graphs of a volume.
- :mod:`gd2.volgen.keys`: volfile ids and GETSPEC key parsing.

docs/volgen.md describes the design and the differences from glusterd1.
"""

from __future__ import annotations

from gd2.volgen.build import (
    DEFAULT_WORKDIR,
    brick_graph,
    brick_volfile,
    client_graph,
    client_volfile,
    needs_shd,
    shd_graph,
    shd_volfile,
)
from gd2.volgen.extra import ExtraXlator
from gd2.volgen.graph import Graph, GraphError, Xlator, render
from gd2.volgen.keys import (
    VolfileKey,
    VolfileKind,
    brick_export_name,
    brick_volfile_id,
    find_brick,
    resolve_key,
    shd_volfile_id,
)
from gd2.volgen.options import GraphKind, ValueKind, VolumeOption, all_keys, create_defaults, lookup

__all__ = [
    "DEFAULT_WORKDIR",
    "ExtraXlator",
    "Graph",
    "GraphError",
    "GraphKind",
    "ValueKind",
    "VolfileKey",
    "VolfileKind",
    "VolumeOption",
    "Xlator",
    "all_keys",
    "brick_export_name",
    "brick_graph",
    "brick_volfile",
    "brick_volfile_id",
    "client_graph",
    "client_volfile",
    "create_defaults",
    "find_brick",
    "lookup",
    "needs_shd",
    "render",
    "resolve_key",
    "shd_graph",
    "shd_volfile",
    "shd_volfile_id",
]
