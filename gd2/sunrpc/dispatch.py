"""From a decoded call to the reply to send: the programs glusterd2 serves (no I/O here).

GF-DUMP 123451501/1, Handshake 14398633/2 and Portmap 34123456/1 (GLUSTER_PROTOCOL.md §2-§4).
Calls that cannot reach a procedure get the RPC-level answer glusterd gives (§1.4): RPC_MISMATCH
for rpcvers ≠ 2, PROG_UNAVAIL, PROG_MISMATCH with the version served, PROC_UNAVAIL,
GARBAGE_ARGS. Any credential is accepted (the codec already refused bodies over 400 bytes).

The handlers are plain functions of their arguments and the state they touch (the portmap
registry, the volfile source); only the source is awaited.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from gd2.sunrpc.portmap import PortmapRegistry
from gd2.sunrpc.source import BrickPortSource, Volfile, VolfileSource
from gd2.xdr import (
    Args,
    CommonReply,
    DumpReply,
    DumpRequest,
    EventNotifyReply,
    GetspecReply,
    GetspecRequest,
    GetVolumeInfoReply,
    GetVolumeInfoRequest,
    PortByBrickReply,
    PortByBrickRequest,
    ProgDetail,
    RpcCall,
    RpcReply,
    SigninReply,
    SigninRequest,
    SignoutReply,
    SignoutRequest,
    XdrError,
    dict_int,
    dict_str,
    encode_reply,
    encode_success,
    make_dict,
    rpc,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

SERVED_PROGRAMS: tuple[ProgDetail, ...] = (
    ProgDetail("GF-DUMP", rpc.GF_DUMP_PROGRAM, rpc.GF_DUMP_VERSION),
    ProgDetail("GlusterFS Handshake", rpc.HANDSHAKE_PROGRAM, rpc.HANDSHAKE_VERSION),
    ProgDetail("Gluster Portmap", rpc.PORTMAP_PROGRAM, rpc.PORTMAP_VERSION),
)
"""What DUMP lists. Portmap must be there: it is how a client knows it reached a glusterd (§2)."""

_VERSIONS = {prog.number: prog.version for prog in SERVED_PROGRAMS}
_PROCEDURES: dict[int, frozenset[int]] = {
    rpc.GF_DUMP_PROGRAM: frozenset({rpc.GF_DUMP_NULL, rpc.GF_DUMP_DUMP, rpc.GF_DUMP_PING}),
    rpc.HANDSHAKE_PROGRAM: frozenset(
        {rpc.HANDSHAKE_NULL, rpc.HANDSHAKE_GETSPEC, rpc.HANDSHAKE_EVENT_NOTIFY, rpc.HANDSHAKE_GET_VOLUME_INFO}
    ),
    rpc.PORTMAP_PROGRAM: frozenset(
        {rpc.PORTMAP_NULL, rpc.PORTMAP_PORTBYBRICK, rpc.PORTMAP_SIGNIN, rpc.PORTMAP_SIGNOUT}
    ),
}

GF_GET_VOLUME_UUID = 1
"""GET_VOLUME_INFO flags bit asking for the volume id (§3.4)."""


@dataclass(frozen=True, slots=True)
class Peer:
    """Who sent a call: its connection and whether it is on this node."""

    connection: int
    address: str
    """``host:port`` for TCP, ``unix:<path>`` for the Unix socket; for logs."""
    local: bool
    """Unix socket, loopback, or this node's own address: may get trusted volfiles."""


def protocol_error(call: RpcCall) -> RpcReply | None:
    """The RPC-level reply for a call that cannot reach a procedure, or None when it can."""
    if call.rpcvers != rpc.RPC_VERSION:
        return RpcReply(call.xid, reply_stat=rpc.MSG_DENIED, reject_stat=rpc.RPC_MISMATCH,
                        mismatch_low=rpc.RPC_VERSION, mismatch_high=rpc.RPC_VERSION)  # fmt: skip
    version = _VERSIONS.get(call.prog)
    if version is None:
        return RpcReply(call.xid, accept_stat=rpc.PROG_UNAVAIL)
    if call.vers != version:
        return RpcReply(call.xid, accept_stat=rpc.PROG_MISMATCH, mismatch_low=version, mismatch_high=version)
    if call.proc not in _PROCEDURES[call.prog]:
        return RpcReply(call.xid, accept_stat=rpc.PROC_UNAVAIL)
    if call.args_error:
        return RpcReply(call.xid, accept_stat=rpc.GARBAGE_ARGS)
    return None


# ---- procedures -------------------------------------------------------------------------------------


def dump(args: DumpRequest) -> DumpReply:
    """GF-DUMP DUMP: the programs served."""
    return DumpReply(args.gfs_id, 0, 0, SERVED_PROGRAMS)


def port_by_brick(registry: PortmapRegistry, args: PortByBrickRequest) -> PortByBrickReply:
    """PORTBYBRICK: the brick's port, or op_ret -1 (errno 0, as glusterd) when not signed in."""
    port = registry.port_of(args.brick)
    if port is None:
        return PortByBrickReply(-1, 0, 0, 0)
    return PortByBrickReply(0, 0, 0, port)


async def port_by_brick_in_pool(source: VolfileSource, registry: PortmapRegistry, ports: BrickPortSource,
                                 args: PortByBrickRequest) -> PortByBrickReply:
    """PORTBYBRICK on a node of a pool: a brick signed in here first (no store round trip);
    else, unless the path is a brick of this node (one of ours that is down must not be answered
    with another node's port for the same path), the port another node published for it.

    The request names only the path: when two other nodes serve the same path the answer is
    one of them (GlusterFS clients ask the brick's own host, which answers from its registry).
    """
    port = registry.port_of(args.brick)
    if port is None and not await source.brick_known(args.brick):
        port = await ports.port_of(args.brick)
    if port is None:
        return PortByBrickReply(-1, 0, 0, 0)
    return PortByBrickReply(0, 0, 0, port)


async def sign_in(source: VolfileSource, registry: PortmapRegistry, args: SigninRequest, peer: Peer) -> SigninReply:
    """SIGNIN: record the brick against the connection it came over.

    Unlike glusterd1, which registers any name from anyone, only a brick of this node's volumes
    signing in from this node is registered: otherwise any process could point clients'
    PORTBYBRICK at a port of its choosing.
    """
    if not peer.local:
        log.warning("SIGNIN refused: not from this node", brick=args.brick, peer=peer.address)
        return SigninReply(-1, errno.EPERM)
    if not await source.brick_known(args.brick):
        log.warning("SIGNIN refused: unknown brick", brick=args.brick, port=args.port, peer=peer.address)
        return SigninReply(-1, errno.ENOENT)
    registry.sign_in(args.brick, args.port, args.pid, peer.connection)
    log.info("brick signed in", brick=args.brick, port=args.port, pid=args.pid, peer=peer.address)
    return SigninReply(0, 0)


def sign_out(registry: PortmapRegistry, args: SignoutRequest, peer: Peer) -> SignoutReply:
    """SIGNOUT: forget the brick. Always {0, 0}, as glusterd."""
    if registry.sign_out(args.brick, args.port, peer.connection):
        log.info("brick signed out", brick=args.brick, port=args.port, peer=peer.address)
    return SignoutReply(0, 0)


async def getspec(source: VolfileSource, args: GetspecRequest, peer: Peer) -> GetspecReply:
    """GETSPEC: op_ret is the byte length of the volfile (§3.1), or -1/ENOENT with spec ""."""
    found = await source.volfile(args.key, peer.local)
    if found is None:
        return GetspecReply(-1, errno.ENOENT, "")
    if isinstance(found, Volfile):
        return GetspecReply.found(found.text, make_dict(found.xdata))
    return GetspecReply.found(found)


async def get_volume_info(source: VolfileSource, args: GetVolumeInfoRequest) -> GetVolumeInfoReply:
    """GET_VOLUME_INFO: {volume_id: uuid} when flags ask for it, -1/EINVAL for an unknown volume."""
    try:
        flags = dict_int(args.data, "flags")
    except XdrError:
        flags = None
    name = dict_str(args.data, "volname")
    if flags is None or name is None:
        return GetVolumeInfoReply(-1, errno.EINVAL, "volname and flags are required")
    if not flags & GF_GET_VOLUME_UUID:
        return GetVolumeInfoReply(0, 0, "")
    volume_id = await source.volume_id(name)
    if volume_id is None:
        return GetVolumeInfoReply(-1, errno.EINVAL, f"volume {name} does not exist")
    return GetVolumeInfoReply(0, 0, "", make_dict({"volume_id": volume_id}))


# ---- the dispatcher ---------------------------------------------------------------------------------

Handler = Callable[[Args, Peer], Args]
AsyncHandler = Callable[[Args, Peer], Awaitable[Args]]


class Dispatcher:
    """Answers decoded calls against one registry and one volfile source; PORTBYBRICK also asks
    brick_ports, when given, for bricks not signed in here."""

    def __init__(self, source: VolfileSource, registry: PortmapRegistry,
                 brick_ports: BrickPortSource | None = None) -> None:
        self.source = source
        self.registry = registry
        # Procedures that need no awaiting stay plain functions: no coroutine per PING.
        self._sync: dict[tuple[int, int], Handler] = {
            (rpc.GF_DUMP_PROGRAM, rpc.GF_DUMP_NULL): lambda args, peer: None,
            (rpc.GF_DUMP_PROGRAM, rpc.GF_DUMP_DUMP): lambda args, peer: dump(_as(args, DumpRequest)),
            (rpc.GF_DUMP_PROGRAM, rpc.GF_DUMP_PING): lambda args, peer: CommonReply(0, 0),
            (rpc.HANDSHAKE_PROGRAM, rpc.HANDSHAKE_NULL): lambda args, peer: None,
            (rpc.HANDSHAKE_PROGRAM, rpc.HANDSHAKE_EVENT_NOTIFY): lambda args, peer: EventNotifyReply(0, 0),
            (rpc.PORTMAP_PROGRAM, rpc.PORTMAP_NULL): lambda args, peer: None,
            (rpc.PORTMAP_PROGRAM, rpc.PORTMAP_PORTBYBRICK): lambda args, peer: port_by_brick(
                registry, _as(args, PortByBrickRequest)
            ),
            (rpc.PORTMAP_PROGRAM, rpc.PORTMAP_SIGNOUT): lambda args, peer: sign_out(
                registry, _as(args, SignoutRequest), peer
            ),
        }
        self._async: dict[tuple[int, int], AsyncHandler] = {
            (rpc.HANDSHAKE_PROGRAM, rpc.HANDSHAKE_GETSPEC): lambda args, peer: getspec(
                source, _as(args, GetspecRequest), peer
            ),
            (rpc.HANDSHAKE_PROGRAM, rpc.HANDSHAKE_GET_VOLUME_INFO): lambda args, peer: get_volume_info(
                source, _as(args, GetVolumeInfoRequest)
            ),
            (rpc.PORTMAP_PROGRAM, rpc.PORTMAP_SIGNIN): lambda args, peer: sign_in(
                source, registry, _as(args, SigninRequest), peer
            ),
        }
        if brick_ports is not None:
            del self._sync[rpc.PORTMAP_PROGRAM, rpc.PORTMAP_PORTBYBRICK]
            self._async[rpc.PORTMAP_PROGRAM, rpc.PORTMAP_PORTBYBRICK] = lambda args, peer: port_by_brick_in_pool(
                source, registry, brick_ports, _as(args, PortByBrickRequest)
            )

    async def reply(self, call: RpcCall, peer: Peer) -> bytes:
        """The encoded reply record for call. A failing volfile source, or a volfile that cannot
        be encoded, gives SYSTEM_ERR (logged here, once); the connection stays usable."""
        error = protocol_error(call)
        if error is not None:
            return encode_reply(error)
        key = (call.prog, call.proc)
        handler = self._sync.get(key)
        if handler is not None:
            return encode_success(call.xid, handler(call.args, peer))
        try:
            # Encoding is inside: a source can hand back text that cannot be sent (lone surrogates).
            return encode_success(call.xid, await self._async[key](call.args, peer))
        except Exception:
            log.exception("procedure failed", peer=peer.address, xid=call.xid, prog=call.prog, proc=call.proc)
            return encode_reply(RpcReply(call.xid, accept_stat=rpc.SYSTEM_ERR))


def _as(args: Args, kind: type[T]) -> T:
    # The codec decodes each known procedure's arguments as its own type; anything else is a bug.
    if not isinstance(args, kind):
        raise TypeError(f"expected {kind.__name__} arguments, got {type(args).__name__}")
    return args
