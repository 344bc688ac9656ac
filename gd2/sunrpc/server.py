"""The SunRPC server: record-marked ONC RPC over TCP and a Unix socket, one task per connection.

A thin loop around pure parts: bytes go through the record reassembler and the codec
(gd2.xdr), calls through the dispatcher (gd2.sunrpc.dispatch), and replies back out. Each
connection handles its calls in order and buffers at most one record (``max_record``), so a peer
can make the server hold no more than that. Anything that breaks the framing or the RPC header,
or a record over ``max_record``, closes that connection alone.

Server-to-client callbacks (FETCHSPEC) share each connection's writer with the replies, under a
per-connection lock, so the two never interleave on the wire.
"""

from __future__ import annotations

import errno
import itertools
import math
import os
import socket
import stat
from ipaddress import ip_address

import structlog
import trio

from gd2.errors import ConfigError
from gd2.sunrpc.dispatch import Dispatcher, Peer
from gd2.sunrpc.portmap import PortmapRegistry
from gd2.sunrpc.source import BrickPortSource, VolfileSource
from gd2.xdr import RecordReassembler, XdrError, decode_call, encode_fetchspec_call

log = structlog.get_logger(__name__)

MAX_REQUEST_RECORD = 1 << 20
"""Largest request record accepted (1 MiB): GlusterFS management calls are a few hundred bytes."""

_RECEIVE_SIZE = 64 * 1024
_BACKLOG = 1024  # as glusterd's transport.listen-backlog


class _Connection:
    __slots__ = ("id", "peer", "send_lock", "stream")

    def __init__(self, connection_id: int, stream: trio.SocketStream, peer: Peer) -> None:
        self.id = connection_id
        self.stream = stream
        self.peer = peer
        self.send_lock = trio.Lock()

    async def send(self, data: bytes) -> None:
        async with self.send_lock:
            await self.stream.send_all(data)


class SunrpcServer:
    """What the connections of a SunRPC server share: the dispatcher, the portmap registry and
    the list of connected clients (for FETCHSPEC). Serve it with ``serve_sunrpc``."""

    def __init__(
        self, source: VolfileSource, registry: PortmapRegistry | None = None, *, max_record: int = MAX_REQUEST_RECORD,
        brick_ports: BrickPortSource | None = None, call_timeout: float = 10.0,
    ) -> None:
        self.registry = registry if registry is not None else PortmapRegistry()
        self.dispatcher = Dispatcher(source, self.registry, brick_ports)
        self.max_record = max_record
        self.call_timeout = call_timeout
        self._connections: dict[int, _Connection] = {}
        self._connection_ids = itertools.count(1)
        self._callback_xids = itertools.count(1)

    @property
    def connection_count(self) -> int:
        """Clients connected right now."""
        return len(self._connections)

    async def notify_fetchspec(self) -> int:
        """Send the FETCHSPEC callback to every connected client; return how many were sent.

        Clients never reply: each re-runs GETSPEC for the volfiles it holds (§1.7). A client that
        does not read its socket delays this call; callers that need a bound wrap it in their
        own deadline. Connections that break meanwhile are skipped.
        """
        sent = 0

        async def one(connection: _Connection) -> None:
            nonlocal sent
            try:
                await connection.send(encode_fetchspec_call(next(self._callback_xids) & 0xFFFFFFFF))
                sent += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # it is closing; its own task cleans up

        async with trio.open_nursery() as nursery:
            for connection in list(self._connections.values()):
                nursery.start_soon(one, connection)
        return sent

    async def handle_stream(self, stream: trio.SocketStream) -> None:
        """Serve one client connection until it closes or breaks the protocol."""
        connection_id = next(self._connection_ids)
        connection = _Connection(connection_id, stream, _peer_of(stream.socket, connection_id))
        self._connections[connection.id] = connection
        bound = log.bind(peer=connection.peer.address)
        try:
            await self._serve(connection, bound)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            bound.debug("connection lost")
        except Exception:
            bound.exception("connection failed; closing it")
        finally:
            del self._connections[connection.id]
            for entry in self.registry.drop_connection(connection.id):
                bound.info("brick disconnected", brick=entry.brick, port=entry.port)
            await trio.aclose_forcefully(stream)

    async def _serve(self, connection: _Connection, bound: structlog.typing.FilteringBoundLogger) -> None:
        reassembler = RecordReassembler(self.max_record)
        stream = connection.stream
        # Until its first call, and while a call is arriving, a connection has call_timeout to
        # finish it: idle or trickling connections cannot pile up and hold file descriptors.
        # Once it has made a valid call it may wait for ever between calls (real clients do).
        served = False
        deadline: float | None = trio.current_time() + self.call_timeout
        while True:
            with trio.move_on_at(math.inf if deadline is None else deadline) as waiting:
                data = await stream.receive_some(_RECEIVE_SIZE)
            if waiting.cancelled_caught:
                bound.warning("closing connection: no whole call in time", seconds=self.call_timeout,
                              served_before=served)
                return
            if not data:
                if not reassembler.at_boundary:
                    bound.warning("connection closed in the middle of a record")
                return
            try:
                records = reassembler.feed(data)
            except XdrError as exc:
                bound.warning("closing connection: bad record marking", error=str(exc))
                return
            for record in records:
                try:
                    call = decode_call(record)
                except XdrError as exc:
                    bound.warning("closing connection: not a valid RPC call", error=str(exc), **_header_fields(record))
                    return
                if call.args_error:
                    bound.info("garbage arguments", xid=call.xid, prog=call.prog, proc=call.proc, error=call.args_error)
                served = True
                await connection.send(await self.dispatcher.reply(call, connection.peer))
            if reassembler.at_boundary:
                if served:
                    deadline = None
            elif deadline is None:
                deadline = trio.current_time() + self.call_timeout


def _header_fields(record: bytes) -> dict[str, int]:
    # What can be read of a broken call's header, for the log line.
    fields: dict[str, int] = {}
    if len(record) >= 4:
        fields["xid"] = int.from_bytes(record[0:4], "big")
    if len(record) >= 24:
        fields["prog"] = int.from_bytes(record[12:16], "big")
        fields["proc"] = int.from_bytes(record[20:24], "big")
    return fields


def _peer_of(sock: trio.socket.SocketType, connection_id: int) -> Peer:
    if sock.family == socket.AF_UNIX:
        return Peer(connection_id, f"unix:{sock.getsockname() or '?'}", True)
    host, port = sock.getpeername()[:2]
    own = sock.getsockname()[0]
    try:
        loopback = ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return Peer(connection_id, f"{host}:{port}", loopback or host == own)


async def serve_sunrpc(
    server: SunrpcServer,
    tcp_address: str,
    tcp_port: int,
    unix_path: str | os.PathLike[str] | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve SunRPC on ``tcp_address:tcp_port`` and, if given, on the Unix socket unix_path,
    until cancelled.

    Reports the bound TCP port with ``task_status.started`` once both listen (so port 0 picks a
    free one). A stale Unix socket left by a crash is replaced; one another process still serves
    on is not. Raises ConfigError when an address cannot be bound.
    """
    listeners = [await _tcp_listener(tcp_address, tcp_port)]
    unix_inode: int | None = None
    try:
        if unix_path is not None:
            unix_listener = await _unix_listener(os.fspath(unix_path))
            listeners.append(unix_listener)
            unix_inode = os.stat(os.fspath(unix_path)).st_ino
        port: int = listeners[0].socket.getsockname()[1]
        log.info("serving SunRPC", address=tcp_address, port=port, unix_path=os.fspath(unix_path or "") or None)
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, server.handle_stream, listeners)
            task_status.started(port)
    finally:
        with trio.CancelScope(shield=True):  # closing a listener does not block
            for listener in listeners:
                await listener.aclose()
        if unix_path is not None and unix_inode is not None:
            _unlink_if_ours(os.fspath(unix_path), unix_inode)


async def _tcp_listener(address: str, port: int) -> trio.SocketListener:
    try:
        listeners = await trio.open_tcp_listeners(port, host=address, backlog=_BACKLOG)
    except OSError as exc:
        raise ConfigError(f"cannot listen for SunRPC on {address}:{port}: {exc.strerror or exc}") from None
    for extra in listeners[1:]:  # an address names one socket; a host name could resolve to more
        await extra.aclose()
    return listeners[0]


async def _unix_listener(path: str) -> trio.SocketListener:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot use SunRPC socket {path}: {exc.strerror}") from None
    else:
        if not stat.S_ISSOCK(mode):
            raise ConfigError(f"cannot use SunRPC socket {path}: it exists and is not a socket")
        if await _unix_in_use(path):
            raise ConfigError(f"cannot use SunRPC socket {path}: another process is serving on it")
        os.unlink(path)  # stale, from a crash
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen for SunRPC on {path}: {exc.strerror or exc}") from None
    return trio.SocketListener(sock)


async def _unix_in_use(path: str) -> bool:
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await probe.connect(path)
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        probe.close()
    return True


def _unlink_if_ours(path: str, inode: int) -> None:
    try:
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass

