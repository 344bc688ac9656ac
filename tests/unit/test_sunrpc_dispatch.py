"""The SunRPC dispatcher: every procedure and every error path, without sockets."""

from __future__ import annotations

import errno

import pytest

from gd2.sunrpc import (
    SERVED_PROGRAMS,
    Dispatcher,
    Peer,
    PortmapRegistry,
    StaticVolfileSource,
    Volfile,
    protocol_error,
)
from gd2.xdr import (
    Args,
    CommonReply,
    DumpReply,
    DumpRequest,
    EventNotifyReply,
    EventNotifyRequest,
    GetspecReply,
    GetspecRequest,
    GetVolumeInfoReply,
    GetVolumeInfoRequest,
    Message,
    PortByBrickReply,
    PortByBrickRequest,
    RpcCall,
    RpcReply,
    SigninReply,
    SigninRequest,
    SignoutReply,
    SignoutRequest,
    decode_reply,
    encode_call,
    make_dict,
    rpc,
)

VOLFILE = "volume gv0-client-0\n    type protocol/client\nend-volume\n"
VOLUME_ID = "63d82feb-50cb-4434-9d5a-272c551bec34"
REMOTE = Peer(1, "192.0.2.7:49151", False)
LOCAL = Peer(2, "127.0.0.1:49150", True)


@pytest.fixture
def source() -> StaticVolfileSource:
    return StaticVolfileSource({"gv0": VOLFILE, "gv0.node1.b1": "brick volfile\n"}, {"gv0": VOLUME_ID},
                               trusted={"gv0": "trusted " + VOLFILE})  # fmt: skip


@pytest.fixture
def registry() -> PortmapRegistry:
    return PortmapRegistry()


@pytest.fixture
def dispatcher(source: StaticVolfileSource, registry: PortmapRegistry) -> Dispatcher:
    return Dispatcher(source, registry)


async def _ask(
    dispatcher: Dispatcher, call: RpcCall, result_type: type[Message] | type[bytes] | None, peer: Peer = REMOTE
) -> RpcReply:
    # Through the real codec both ways, as the server does.
    received = rpc.decode_call(encode_call(call)[4:])
    return decode_reply((await dispatcher.reply(received, peer))[4:], result_type)


def _call(prog: int, vers: int, proc: int, args: Args = None, xid: int = 7) -> RpcCall:
    return RpcCall(xid, prog, vers, proc, args, rpc.AUTH_GLUSTERFS_V2, bytes(24))


# ---- GF-DUMP ------------------------------------------------------------------------------------------


async def test_dump_lists_dump_handshake_and_portmap(dispatcher: Dispatcher) -> None:
    reply = await _ask(dispatcher, _call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_DUMP, DumpRequest()), DumpReply)
    assert reply.success and reply.xid == 7
    assert reply.result == DumpReply(0xCAED, 0, 0, SERVED_PROGRAMS)
    listed = {(prog.number, prog.version) for prog in SERVED_PROGRAMS}
    assert listed == {(123451501, 1), (14398633, 2), (34123456, 1)}


async def test_ping_and_nulls(dispatcher: Dispatcher) -> None:
    assert (await _ask(dispatcher, _call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING), CommonReply)).result == CommonReply(
        0, 0, {}
    )
    for prog, vers in ((rpc.GF_DUMP_PROGRAM, 1), (rpc.HANDSHAKE_PROGRAM, 2), (rpc.PORTMAP_PROGRAM, 1)):
        reply = await _ask(dispatcher, _call(prog, vers, 0), None)
        assert reply == RpcReply(7)


# ---- handshake ----------------------------------------------------------------------------------------


async def test_getspec_known_key_op_ret_is_byte_length(dispatcher: Dispatcher, source: StaticVolfileSource) -> None:
    args = GetspecRequest(0, "gv0.node1.b1", make_dict({"brick_name": "/b1", "max-op-version": 100000}))
    reply = await _ask(dispatcher, _call(rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_GETSPEC, args), GetspecReply)
    assert reply.result == GetspecReply(len(b"brick volfile\n"), 0, "brick volfile\n", {})
    assert list(source.requests) == [("gv0.node1.b1", False)]


async def test_getspec_op_ret_counts_utf8_bytes(source: StaticVolfileSource, dispatcher: Dispatcher) -> None:
    source.volfiles["accents"] = "option x é\n"
    reply = await _ask(dispatcher, _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "accents")), GetspecReply)
    assert isinstance(reply.result, GetspecReply) and reply.result.op_ret == len("option x é\n".encode())


async def test_getspec_strips_one_slash_and_serves_trusted_to_local_peers(dispatcher: Dispatcher) -> None:
    call = _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "/gv0"))
    remote = await _ask(dispatcher, call, GetspecReply, REMOTE)
    local = await _ask(dispatcher, call, GetspecReply, LOCAL)
    assert isinstance(remote.result, GetspecReply) and remote.result.spec == VOLFILE
    assert isinstance(local.result, GetspecReply) and local.result.spec == "trusted " + VOLFILE


async def test_getspec_unknown_key_is_enoent(dispatcher: Dispatcher) -> None:
    reply = await _ask(dispatcher, _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "nope")), GetspecReply)
    assert reply.success
    assert reply.result == GetspecReply(-1, errno.ENOENT, "", {})


async def test_getspec_xdata_from_the_source(source: StaticVolfileSource, dispatcher: Dispatcher) -> None:
    source.volfiles["shd/gv0"] = Volfile("shd volfile\n", {"pidfile": "/run/gd2/shd-gv0.pid"})
    reply = await _ask(dispatcher, _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "shd/gv0")), GetspecReply)
    assert reply.result == GetspecReply(12, 0, "shd volfile\n", {"pidfile": b"/run/gd2/shd-gv0.pid\0"})


async def test_failing_source_is_system_err(dispatcher: Dispatcher) -> None:
    class Broken(StaticVolfileSource):
        async def volfile(self, key: str, local_peer: bool) -> str | None:
            raise RuntimeError("store unavailable")

    broken = Dispatcher(Broken(), PortmapRegistry())
    reply = await _ask(broken, _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(0, "gv0")), GetspecReply)
    assert reply == RpcReply(7, accept_stat=rpc.SYSTEM_ERR)
    unsendable = Dispatcher(StaticVolfileSource({"gv0": "lone \ud800 surrogate"}), PortmapRegistry())
    reply = await _ask(unsendable, _call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(0, "gv0")), GetspecReply)
    assert reply == RpcReply(7, accept_stat=rpc.SYSTEM_ERR)


async def test_event_notify_is_acknowledged(dispatcher: Dispatcher) -> None:
    args = EventNotifyRequest(0, make_dict({"volname": "gv0", "status": 3}))
    reply = await _ask(dispatcher, _call(rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_EVENT_NOTIFY, args), EventNotifyReply)
    assert reply.result == EventNotifyReply(0, 0, {})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"volname": "gv0", "flags": 1}, GetVolumeInfoReply(0, 0, "", {"volume_id": VOLUME_ID.encode() + b"\0"})),
        ({"volname": "gv0", "flags": 0}, GetVolumeInfoReply(0, 0, "", {})),
        ({"volname": "nope", "flags": 1}, GetVolumeInfoReply(-1, errno.EINVAL, "volume nope does not exist", {})),
        ({"flags": 1}, GetVolumeInfoReply(-1, errno.EINVAL, "volname and flags are required", {})),
        ({"volname": "gv0"}, GetVolumeInfoReply(-1, errno.EINVAL, "volname and flags are required", {})),
        ({"volname": "gv0", "flags": "x"}, GetVolumeInfoReply(-1, errno.EINVAL, "volname and flags are required")),
    ],
)
async def test_get_volume_info(
    dispatcher: Dispatcher, data: dict[str, str | int], expected: GetVolumeInfoReply
) -> None:
    call = _call(rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_GET_VOLUME_INFO, GetVolumeInfoRequest(make_dict(data)))
    assert (await _ask(dispatcher, call, GetVolumeInfoReply)).result == expected


# ---- portmap ------------------------------------------------------------------------------------------


async def test_signin_then_portbybrick_then_signout(dispatcher: Dispatcher, registry: PortmapRegistry) -> None:
    portbybrick = _call(rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_PORTBYBRICK, PortByBrickRequest("/bricks/b1"))
    assert (await _ask(dispatcher, portbybrick, PortByBrickReply)).result == PortByBrickReply(-1, 0, 0, 0)

    signin = _call(rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNIN, SigninRequest("/bricks/b1", 49152, 4242))
    assert (await _ask(dispatcher, signin, SigninReply, LOCAL)).result == SigninReply(0, 0)
    assert registry.port_of("/bricks/b1") == 49152 and registry.pid_of("/bricks/b1") == 4242
    assert registry.entries()[0].connection == LOCAL.connection
    assert (await _ask(dispatcher, portbybrick, PortByBrickReply)).result == PortByBrickReply(0, 0, 0, 49152)

    signout = _call(rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNOUT, SignoutRequest("/bricks/b1", 49152))
    assert (await _ask(dispatcher, signout, SignoutReply, LOCAL)).result == SignoutReply(0, 0)
    assert registry.port_of("/bricks/b1") is None
    # Signing out what is not signed in is still {0, 0}, as in glusterd.
    assert (await _ask(dispatcher, signout, SignoutReply, LOCAL)).result == SignoutReply(0, 0)


# ---- RPC-level errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (RpcCall(7, rpc.GF_DUMP_PROGRAM, 1, 1, DumpRequest(), rpcvers=3),
         RpcReply(7, reply_stat=rpc.MSG_DENIED, reject_stat=rpc.RPC_MISMATCH, mismatch_low=2, mismatch_high=2)),
        (RpcCall(7, 1298437, 400, 1), RpcReply(7, accept_stat=rpc.PROG_UNAVAIL)),
        (RpcCall(7, rpc.CALLBACK_PROGRAM, 1, 1), RpcReply(7, accept_stat=rpc.PROG_UNAVAIL)),
        (RpcCall(7, rpc.HANDSHAKE_PROGRAM, 1, 2), RpcReply(7, accept_stat=rpc.PROG_MISMATCH, mismatch_low=2,
                                                           mismatch_high=2)),
        (RpcCall(7, rpc.PORTMAP_PROGRAM, 2, 1), RpcReply(7, accept_stat=rpc.PROG_MISMATCH, mismatch_low=1,
                                                         mismatch_high=1)),
        (RpcCall(7, rpc.GF_DUMP_PROGRAM, 2, 1), RpcReply(7, accept_stat=rpc.PROG_MISMATCH, mismatch_low=1,
                                                         mismatch_high=1)),
        (RpcCall(7, rpc.HANDSHAKE_PROGRAM, 2, 1, b"setvolume"), RpcReply(7, accept_stat=rpc.PROC_UNAVAIL)),
        (RpcCall(7, rpc.HANDSHAKE_PROGRAM, 2, 7), RpcReply(7, accept_stat=rpc.PROC_UNAVAIL)),
        (RpcCall(7, rpc.PORTMAP_PROGRAM, 1, 2), RpcReply(7, accept_stat=rpc.PROC_UNAVAIL)),
        (RpcCall(7, rpc.GF_DUMP_PROGRAM, 1, 3), RpcReply(7, accept_stat=rpc.PROC_UNAVAIL)),
        (RpcCall(7, rpc.PORTMAP_PROGRAM, 1, 1, b"\0\0\0\x09/b"), RpcReply(7, accept_stat=rpc.GARBAGE_ARGS)),
        (RpcCall(7, rpc.HANDSHAKE_PROGRAM, 2, 2, b""), RpcReply(7, accept_stat=rpc.GARBAGE_ARGS)),
        (RpcCall(7, rpc.GF_DUMP_PROGRAM, 1, 2, b"\0\0\0\0"), RpcReply(7, accept_stat=rpc.GARBAGE_ARGS)),
    ],
)  # fmt: skip
async def test_rpc_errors(dispatcher: Dispatcher, call: RpcCall, expected: RpcReply) -> None:
    received = rpc.decode_call(encode_call(call)[4:])
    assert protocol_error(received) == expected
    assert decode_reply((await dispatcher.reply(received, REMOTE))[4:], None) == expected


async def test_any_credential_flavor_is_accepted(dispatcher: Dispatcher) -> None:
    for flavor in (rpc.AUTH_NONE, rpc.AUTH_UNIX, rpc.AUTH_GLUSTERFS, rpc.AUTH_GLUSTERFS_V2, rpc.AUTH_GLUSTERFS_V3, 99):
        call = RpcCall(3, rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING, None, flavor, bytes(400), flavor, bytes(400))
        assert (await _ask(dispatcher, call, CommonReply)).success


async def test_signin_of_an_unknown_brick_or_from_elsewhere_is_refused() -> None:
    registry = PortmapRegistry()
    dispatcher = Dispatcher(StaticVolfileSource(bricks={"/bricks/b1"}), registry)
    unknown = _call(rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNIN, SigninRequest("/etc", 49152, 4242))
    assert (await _ask(dispatcher, unknown, SigninReply, LOCAL)).result == SigninReply(-1, errno.ENOENT)
    remote = _call(rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNIN, SigninRequest("/bricks/b1", 49152, 4242))
    assert (await _ask(dispatcher, remote, SigninReply, REMOTE)).result == SigninReply(-1, errno.EPERM)
    assert registry.entries() == []
    assert (await _ask(dispatcher, remote, SigninReply, LOCAL)).result == SigninReply(0, 0)
    assert registry.port_of("/bricks/b1") == 49152
