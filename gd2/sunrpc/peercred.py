"""Which local process is at the other end of a SunRPC connection.

Portmap SIGNIN tells every client where a brick listens, so it is taken only from
the process that claims it: the ``pid`` the brick puts in its SIGNIN must own the
connection the call came over, and run as the same user as glusterd2 (bricks are
started by glusterd2, as root). A local user's process can then neither sign in
for a real brick (redirecting clients to a port of its own) nor sign one out.

Over the Unix socket the kernel says who connected (SO_PEERCRED). Over TCP the
connection is found in /proc/net/tcp{,6} by the caller's address and port, and its
socket inode among the claimed process's open files; this costs a few reads of
/proc, once per SIGNIN, never per request.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import trio

_PROC = Path("/proc")
_ESTABLISHED = "01"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The process that opened a Unix socket connection, as the kernel saw it."""

    pid: int
    uid: int


def unix_credentials(sock: trio.socket.SocketType) -> Credentials | None:
    """SO_PEERCRED of a connected Unix socket, or None when the kernel cannot tell."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    pid, uid, _gid = struct.unpack("3i", raw)
    return Credentials(pid, uid) if pid > 0 else None


def refusal(claimed_pid: int, *, tcp_peer: tuple[str, int] | None,
            unix_peer: Credentials | None) -> str | None:
    """Why the process ``claimed_pid`` may not speak for a brick on this connection, or None.

    ``tcp_peer`` is the caller's (address, port) of a TCP connection, ``unix_peer``
    the credentials of a Unix socket one (exactly one of them is given).
    """
    if claimed_pid <= 0:
        return f"pid {claimed_pid} is not a process"
    if unix_peer is not None:
        if unix_peer.pid != claimed_pid:
            return f"the connection belongs to pid {unix_peer.pid}, not {claimed_pid}"
        uid = unix_peer.uid
    else:
        if tcp_peer is None:
            return "the connection's process cannot be told"
        inode = _tcp_inode(*tcp_peer)
        if inode is None:
            return f"no local connection from {tcp_peer[0]}:{tcp_peer[1]}"
        if not _holds(claimed_pid, inode):
            return f"pid {claimed_pid} does not hold the connection from {tcp_peer[0]}:{tcp_peer[1]}"
        try:
            uid = (_PROC / str(claimed_pid)).stat().st_uid
        except OSError:
            return f"pid {claimed_pid} is gone"
    if uid != os.geteuid():
        return f"pid {claimed_pid} runs as uid {uid}, not as glusterd2 ({os.geteuid()})"
    return None


def _tcp_inode(address: str, port: int) -> str | None:
    """The socket inode of the established TCP socket whose local end is address:port."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        table, wanted = "tcp", f"{_hex4(ip)}:{port:04X}"
    else:
        table, wanted = "tcp6", f"{_hex6(ip)}:{port:04X}"
    try:
        lines = (_PROC / "net" / table).read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[1] == wanted and fields[3] == _ESTABLISHED:
            return fields[9]
    return None


def _hex4(ip: ipaddress.IPv4Address) -> str:
    # /proc/net/tcp prints the address as a host-order (little-endian here) 32-bit word.
    return f"{int.from_bytes(ip.packed, 'little'):08X}"


def _hex6(ip: ipaddress.IPv6Address) -> str:
    packed = ip.packed
    return "".join(f"{int.from_bytes(packed[i:i + 4], 'little'):08X}" for i in range(0, 16, 4))


def _holds(pid: int, inode: str) -> bool:
    wanted = f"socket:[{inode}]"
    fd_dir = _PROC / str(pid) / "fd"
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return False
    for entry in entries:
        try:
            if os.readlink(entry) == wanted:
                return True
        except OSError:
            continue
    return False
