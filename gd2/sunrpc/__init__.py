"""glusterd2's SunRPC server (L3 entry point): what GlusterFS processes talk to.

glusterfsd bricks, FUSE/gfapi clients and the self-heal daemon fetch volfiles (handshake
GETSPEC), sign bricks in and out and look brick ports up (portmap), and learn which programs are
served (GF-DUMP) over record-marked ONC RPC on TCP (24007 by default) and on a Unix socket
(GLUSTER_PROTOCOL.md §1-§5, §10). The daemon builds a ``SunrpcServer`` with its VolfileSource
and runs ``serve_sunrpc`` in its nursery; the portmap registry (``server.registry``) and
``server.notify_fetchspec()`` are how the rest of glusterd2 sees bricks and pushes volfile changes.
"""

from gd2.sunrpc.dispatch import SERVED_PROGRAMS, Dispatcher, Peer, protocol_error
from gd2.sunrpc.portmap import BrickEntry, PortmapChange, PortmapEvent, PortmapRegistry
from gd2.sunrpc.server import MAX_REQUEST_RECORD, SunrpcServer, serve_sunrpc
from gd2.sunrpc.source import BrickPortSource, StaticVolfileSource, Volfile, VolfileSource

__all__ = [
    "MAX_REQUEST_RECORD",
    "SERVED_PROGRAMS",
    "BrickEntry",
    "BrickPortSource",
    "Dispatcher",
    "Peer",
    "PortmapChange",
    "PortmapEvent",
    "PortmapRegistry",
    "StaticVolfileSource",
    "SunrpcServer",
    "Volfile",
    "VolfileSource",
    "protocol_error",
    "serve_sunrpc",
]
