"""The SunRPC server on real sockets: a synthetic client speaking the protocol through gd2.xdr,
hostile peers, and a real glusterfsd brick signing in and out.

Addresses 127.0.0.150-199 belong to these tests; the server listens on ephemeral ports (>= 32768),
never 24007.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import random
import re
import signal
import socket
import struct
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio

from gd2.errors import ConfigError
from gd2.sunrpc import PortmapChange, PortmapEvent, StaticVolfileSource, SunrpcServer, serve_sunrpc
from gd2.xdr import (
    Args,
    CommonReply,
    DumpReply,
    DumpRequest,
    GetspecReply,
    GetspecRequest,
    Message,
    PortByBrickReply,
    PortByBrickRequest,
    RecordReassembler,
    RpcCall,
    RpcReply,
    SigninReply,
    SigninRequest,
    SignoutReply,
    SignoutRequest,
    decode_call,
    decode_reply,
    encode_call,
    encode_record,
    make_dict,
    rpc,
)

pytestmark = pytest.mark.integration

_addresses = (f"127.0.0.{n}" for n in itertools.cycle(range(150, 200)))
VOLFILE = "volume gv0-client-0\n    type protocol/client\n    option remote-host 127.0.0.150\nend-volume\n"
GLUSTERFSD = "/usr/sbin/glusterfsd"


# ---- a synthetic client -------------------------------------------------------------------------------


class Client:
    """One management connection, as a GlusterFS process opens it."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._reassembler = RecordReassembler(1 << 24)
        self._records: list[bytes] = []
        self._xids = itertools.count(100)

    @classmethod
    async def tcp(cls, address: str, port: int) -> Client:
        return cls(await trio.open_tcp_stream(address, port))

    @classmethod
    async def unix(cls, path: str) -> Client:
        return cls(await trio.open_unix_socket(path))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def record(self) -> bytes:
        """The next record from the server; EOFError when it closed the connection."""
        while not self._records:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                raise EOFError
            self._records += self._reassembler.feed(data)
        return self._records.pop(0)

    async def call(
        self, prog: int, vers: int, proc: int, args: Args = None,
        result_type: type[Message] | type[bytes] | None = None, **fields: Any,
    ) -> RpcReply:  # fmt: skip
        xid = next(self._xids)
        await self.send(encode_call(RpcCall(xid, prog, vers, proc, args, rpc.AUTH_GLUSTERFS_V2, bytes(24), **fields)))
        reply = decode_reply(await self.record(), result_type)
        assert reply.xid == xid
        return reply

    async def closed_by_server(self) -> bool:
        """True when the server closes the connection (without sending anything more)."""
        try:
            await self.record()
        except EOFError:
            return True
        return False

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass
class Running:
    server: SunrpcServer
    source: StaticVolfileSource
    address: str
    port: int
    unix_path: str
    clients: list[Client] = field(default_factory=list)

    async def tcp(self) -> Client:
        self.clients.append(await Client.tcp(self.address, self.port))
        return self.clients[-1]

    async def unix(self) -> Client:
        self.clients.append(await Client.unix(self.unix_path))
        return self.clients[-1]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Unix socket paths are limited to 107 bytes; pytest's tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="gd2rpc"))
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


@pytest.fixture
async def running(nursery: trio.Nursery, short_dir: Path) -> AsyncIterator[Running]:
    source = StaticVolfileSource({"gv0": VOLFILE}, {"gv0": "63d82feb-50cb-4434-9d5a-272c551bec34"})
    server = SunrpcServer(source)
    address = next(_addresses)
    unix_path = str(short_dir / "glusterd.socket")
    port = await nursery.start(serve_sunrpc, server, address, 0, unix_path)
    assert port >= 30000
    running = Running(server, source, address, port, unix_path)
    try:
        yield running
    finally:
        for client in running.clients:
            await client.aclose()


async def _until(predicate: Any) -> None:
    # Polling: the server offers no event for "connection cleaned up", and needs none.
    with trio.fail_after(10):
        while not predicate():  # noqa: ASYNC110
            await trio.sleep(0.005)


# ---- the protocol -------------------------------------------------------------------------------------


async def test_dump_lists_portmap_then_ping(running: Running) -> None:
    client = await running.tcp()
    reply = await client.call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_DUMP, DumpRequest(), DumpReply)
    assert isinstance(reply.result, DumpReply) and reply.result.op_ret == 0
    assert (rpc.PORTMAP_PROGRAM, 1) in {(p.number, p.version) for p in reply.result.programs}
    assert (await client.call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING, None, CommonReply)).result == CommonReply()
    await client.aclose()


async def test_pipelined_calls_are_answered_in_order(running: Running) -> None:
    client = await running.tcp()
    dump = encode_call(RpcCall(2, rpc.GF_DUMP_PROGRAM, 1, 1, DumpRequest()))
    ping = encode_call(RpcCall(3, rpc.GF_DUMP_PROGRAM, 1, 2))
    await client.send(dump + ping)
    assert decode_reply(await client.record(), DumpReply).xid == 2
    assert decode_reply(await client.record(), CommonReply).xid == 3


async def test_getspec_over_tcp_and_unix(running: Running) -> None:
    for client in (await running.tcp(), await running.unix()):
        xdata = make_dict({"max-op-version": 100000, "min-op-version": 1})
        reply = await client.call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "/gv0", xdata), GetspecReply)
        assert reply.result == GetspecReply(len(VOLFILE.encode()), 0, VOLFILE, {})
        missing = await client.call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "nope"), GetspecReply)
        assert missing.result == GetspecReply(-1, 2, "", {})
    # Both came from this node: loopback and the Unix socket.
    assert list(running.source.requests) == [("/gv0", True), ("nope", True)] * 2


async def test_signin_portbybrick_signout_and_disconnect(running: Running) -> None:
    registry = running.server.registry
    events: list[PortmapEvent] = []
    registry.listen(events.append)
    brick = await running.tcp()
    client = await running.tcp()

    async with trio.open_nursery() as nursery:
        waiter: list[int] = []

        async def wait() -> None:
            waiter.append(await registry.wait_signed_in("/bricks/b1"))

        nursery.start_soon(wait)
        signin = await brick.call(rpc.PORTMAP_PROGRAM, 1, 4, SigninRequest("/bricks/b1", 49152, 4242), SigninReply)
        assert signin.result == SigninReply(0, 0)
    assert waiter == [49152]

    found = await client.call(rpc.PORTMAP_PROGRAM, 1, 1, PortByBrickRequest("/bricks/b1"), PortByBrickReply)
    assert found.result == PortByBrickReply(0, 0, 0, 49152)
    assert registry.pid_of("/bricks/b1") == 4242

    signout = await brick.call(rpc.PORTMAP_PROGRAM, 1, 5, SignoutRequest("/bricks/b1", 49152), SignoutReply)
    assert signout.result == SignoutReply(0, 0)
    gone = await client.call(rpc.PORTMAP_PROGRAM, 1, 1, PortByBrickRequest("/bricks/b1"), PortByBrickReply)
    assert gone.result == PortByBrickReply(-1, 0, 0, 0)

    # Sign in again, then the brick's connection drops (SIGKILL): the entry goes with it.
    await brick.call(rpc.PORTMAP_PROGRAM, 1, 4, SigninRequest("/bricks/b1", 49153, 4243), SigninReply)
    await brick.aclose()
    await _until(lambda: registry.port_of("/bricks/b1") is None)
    assert [e.change for e in events] == [PortmapChange.SIGNED_IN, PortmapChange.SIGNED_OUT,
                                          PortmapChange.SIGNED_IN, PortmapChange.DISCONNECTED]  # fmt: skip


async def test_fetchspec_reaches_every_connected_client(running: Running) -> None:
    clients = [await running.tcp(), await running.unix(), await running.tcp()]
    for client in clients:  # make sure each is being served before notifying
        await client.call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)
    await clients[2].aclose()
    await _until(lambda: running.server.connection_count == 2)
    assert await running.server.notify_fetchspec() == 2
    xids = set()
    for client in clients[:2]:
        callback = decode_call(await client.record())
        assert (callback.prog, callback.vers, callback.proc, callback.args) == (rpc.CALLBACK_PROGRAM, 1, 1, None)
        assert (callback.cred_flavor, callback.cred, callback.verf_flavor) == (rpc.AUTH_NONE, b"", rpc.AUTH_NONE)
        xids.add(callback.xid)
        # The connection keeps serving after a callback.
        assert (await client.call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)).success
    assert len(xids) == 2


async def test_multi_fragment_records_are_accepted(running: Running) -> None:
    client = await running.tcp()
    payload = encode_call(RpcCall(9, rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "gv0")))[4:]
    await client.send(encode_record(payload, max_fragment=7))
    assert decode_reply(await client.record(), GetspecReply).result == GetspecReply.found(VOLFILE)


# ---- errors that get an answer, on a connection that stays usable ------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"rpcvers": 3}, {"reply_stat": rpc.MSG_DENIED, "reject_stat": rpc.RPC_MISMATCH, "mismatch_low": 2,
                          "mismatch_high": 2}),
        ({"prog": 1298437, "vers": 400}, {"accept_stat": rpc.PROG_UNAVAIL}),
        ({"vers": 3}, {"accept_stat": rpc.PROG_MISMATCH, "mismatch_low": 2, "mismatch_high": 2}),
        ({"proc": 1}, {"accept_stat": rpc.PROC_UNAVAIL}),
        ({"args": b"\xff\xff\xff\xff"}, {"accept_stat": rpc.GARBAGE_ARGS}),
    ],
)  # fmt: skip
async def test_rpc_errors_are_answered(running: Running, fields: dict[str, Any], expected: dict[str, Any]) -> None:
    client = await running.tcp()
    call = dataclasses.replace(RpcCall(41, rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(0, "gv0")), **fields)
    await client.send(encode_call(call))
    assert decode_reply(await client.record(), None) == RpcReply(41, **expected)
    assert (await client.call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)).success


# ---- peers that break the protocol lose their connection, and nobody else notices --------------------


_rng = random.Random(5)


@pytest.mark.parametrize(
    ("garbage", "then_eof"),
    [
        pytest.param(struct.pack(">I", 0x80000000 | 12) + struct.pack(">III", 1, 1, 0), False, id="reply not call"),
        pytest.param(struct.pack(">I", 0x80000000 | 8) + struct.pack(">II", 1, 0), False, id="truncated header"),
        pytest.param(struct.pack(">I", 0x80000000 | (2 << 20)), False, id="oversized record header"),
        pytest.param(struct.pack(">I", 0x7FFFFFFF), False, id="huge first fragment"),
        pytest.param(
            encode_record(struct.pack(">8I", 1, 0, 2, rpc.GF_DUMP_PROGRAM, 1, 2, 1, 401) + bytes(404)),
            False,
            id="credentials over 400 bytes",
        ),
        # Random bytes may announce a record of acceptable size that never completes: the server
        # then waits for the rest, so the test ends the stream.
        *(pytest.param(bytes(_rng.getrandbits(8) for _ in range(64)), True, id=f"random {n}") for n in range(6)),
    ],
)
async def test_bad_input_closes_that_connection_only(running: Running, garbage: bytes, then_eof: bool) -> None:
    bystander = await running.unix()
    offender = await running.tcp()
    await offender.send(garbage)
    if then_eof:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await offender.stream.send_eof()
    assert await offender.closed_by_server()
    assert (await bystander.call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)).success
    newcomer = await running.tcp()
    assert (await newcomer.call(rpc.GF_DUMP_PROGRAM, 1, 1, DumpRequest(), DumpReply)).success


async def test_truncated_record_then_eof(running: Running) -> None:
    client = await running.tcp()
    payload = encode_call(RpcCall(1, rpc.GF_DUMP_PROGRAM, 1, 2))
    await client.send(payload[:-3])
    await client.stream.send_eof()
    assert await client.closed_by_server()
    assert running.server.registry.entries() == []
    assert (await (await running.tcp()).call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)).success


async def test_disconnect_mid_getspec_does_not_disturb_the_server(running: Running) -> None:
    for _ in range(20):
        client = await running.tcp()
        await client.send(encode_call(RpcCall(1, rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "gv0"))))
        await client.aclose()
    await _until(lambda: running.server.connection_count == 0)
    assert (await (await running.unix()).call(rpc.GF_DUMP_PROGRAM, 1, 2, None, CommonReply)).success


# ---- listening ----------------------------------------------------------------------------------------


async def test_bind_failures_are_config_errors(running: Running, short_dir: Path) -> None:
    server = SunrpcServer(StaticVolfileSource())
    with pytest.raises(ConfigError, match=re.escape(f"cannot listen for SunRPC on {running.address}:{running.port}")):
        await serve_sunrpc(server, running.address, running.port)
    with pytest.raises(ConfigError, match=r"cannot listen for SunRPC on 192\.0\.2\.1"):
        await serve_sunrpc(server, "192.0.2.1", 0)
    with pytest.raises(ConfigError, match="another process is serving on it"):
        await serve_sunrpc(server, next(_addresses), 0, running.unix_path)
    not_a_socket = short_dir / "file"
    not_a_socket.write_text("")
    with pytest.raises(ConfigError, match="not a socket"):
        await serve_sunrpc(server, next(_addresses), 0, not_a_socket)


async def test_stale_unix_socket_is_replaced_and_removed_on_exit(short_dir: Path) -> None:
    path = short_dir / "stale.socket"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # bound, never listening: what a crash leaves behind
    server = SunrpcServer(StaticVolfileSource({"gv0": VOLFILE}))
    async with trio.open_nursery() as nursery:
        await nursery.start(serve_sunrpc, server, next(_addresses), 0, path)
        client = await Client.unix(str(path))
        assert (await client.call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "gv0"), GetspecReply)).success
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert not path.exists()


# ---- a real glusterfsd --------------------------------------------------------------------------------


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


def _brick_volfile(volume: str, brick: Path, volume_id: str, address: str) -> str:
    b = str(brick)
    return f"""volume {volume}-posix
    type storage/posix
    option directory {b}
    option volume-id {volume_id}
end-volume
volume {volume}-locks
    type features/locks
    subvolumes {volume}-posix
end-volume
volume {volume}-index
    type features/index
    option index-base {b}/.glusterfs/indices
    subvolumes {volume}-locks
end-volume
volume {b}
    type debug/io-stats
    option unique-id {b}
    option volume-id {volume_id}
    subvolumes {volume}-index
end-volume
volume {volume}-server
    type protocol/server
    option transport-type tcp
    option transport.address-family inet
    option transport.socket.bind-address {address}
    option auth-path {b}
    option auth.addr.{b}.allow *
    subvolumes {b}
end-volume
"""


def _prepare_brick(tmp_path: Path, volume: str, address: str) -> tuple[Path, str, str]:
    """A brick directory as volume create leaves it (§6.2); its volfile key and volfile."""
    assert Path(GLUSTERFSD).exists(), "glusterfs-server is not installed"
    volume_id = str(uuid.uuid4())
    brick = tmp_path / "brick1"
    (brick / ".glusterfs").mkdir(parents=True)
    os.setxattr(brick, "trusted.glusterfs.volume-id", uuid.UUID(volume_id).bytes)
    key = f"{volume}.{address}.{str(brick)[1:].replace('/', '-')}"
    return brick, key, _brick_volfile(volume, brick, volume_id, address)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


async def test_real_glusterfsd_signs_in_and_out(running: Running, tmp_path: Path) -> None:
    volume = "gv0"
    brick, key, volfile = _prepare_brick(tmp_path, volume, running.address)
    running.source.volfiles[key] = volfile
    brick_port = _free_port(running.address)
    pidfile, logfile = tmp_path / "brick.pid", tmp_path / "brick.log"

    events: list[PortmapEvent] = []
    signed_out = trio.Event()

    def on_event(event: PortmapEvent) -> None:
        events.append(event)
        if event.change is not PortmapChange.SIGNED_IN:
            signed_out.set()

    running.server.registry.listen(on_event)
    argv = [
        GLUSTERFSD, "-s", running.address, "--volfile-server-port", str(running.port), "--volfile-id", key,
        "--brick-name", str(brick), "--brick-port", str(brick_port),
        "--xlator-option", f"{volume}-server.listen-port={brick_port}", "-p", str(pidfile), "-l", str(logfile),
    ]  # fmt: skip
    parent: trio.Process | None = None
    brick_pid: int | None = None
    try:
        with trio.fail_after(60):
            parent = await trio.lowlevel.open_process(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            # The spawning command exits 0 only once SIGNIN was answered (§4.3).
            assert await parent.wait() == 0, logfile.read_text()
        assert running.source.requests[0] == (key, True)
        assert running.server.registry.port_of(str(brick)) == brick_port
        brick_pid = int(pidfile.read_text().strip())
        assert running.server.registry.pid_of(str(brick)) == brick_pid
        assert [e.change for e in events] == [PortmapChange.SIGNED_IN]
        # The brick really listens where it said.
        with trio.fail_after(10):
            await (await trio.open_tcp_stream(running.address, brick_port)).aclose()

        os.kill(brick_pid, signal.SIGTERM)
        with trio.fail_after(30):
            await signed_out.wait()
        assert events[1].change is PortmapChange.SIGNED_OUT, logfile.read_text()
        assert running.server.registry.port_of(str(brick)) is None
        with trio.fail_after(30):
            while _alive(brick_pid):  # noqa: ASYNC110 - a foreign process: nothing to wait on but polling
                await trio.sleep(0.05)
    finally:
        with trio.CancelScope(shield=True):
            if parent is not None and parent.returncode is None:
                parent.kill()
                await parent.wait()
            if brick_pid is None and pidfile.exists():
                text = pidfile.read_text().strip()
                brick_pid = int(text) if text.isdigit() else None
            if brick_pid is not None and _alive(brick_pid):
                os.kill(brick_pid, signal.SIGKILL)



# ---- idle and trickling connections ---------------------------------------------------------------------


async def test_connections_without_a_whole_call_in_time_are_closed(nursery: trio.Nursery, short_dir: Path) -> None:
    source = StaticVolfileSource({"gv0": VOLFILE})
    server = SunrpcServer(source, call_timeout=0.5)
    address = next(_addresses)
    port = await nursery.start(serve_sunrpc, server, address, 0, str(short_dir / "glusterd.socket"))
    silent = Client(await trio.open_tcp_stream(address, port))
    trickling = Client(await trio.open_tcp_stream(address, port))
    served = Client(await trio.open_tcp_stream(address, port))
    try:
        await served.call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING, None, CommonReply)
        call = encode_call(RpcCall(5, rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING, None))
        with trio.fail_after(10):
            # The trickler sends a byte of its call every 0.2 s: each arrives in time, the call never does.
            async def trickle() -> None:
                for byte in call[:-1]:
                    await trickling.send(bytes([byte]))
                    await trio.sleep(0.2)
            async with trio.open_nursery() as inner:
                inner.start_soon(trickle)
                assert await silent.closed_by_server()
                assert await trickling.closed_by_server()
                inner.cancel_scope.cancel()
        # A connection that has made a call may stay idle past the timeout and still be served.
        assert server.connection_count == 1
        reply = await served.call(rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING, None, CommonReply)
        assert reply.result == CommonReply()
    finally:
        for client in (silent, trickling, served):
            await client.aclose()
