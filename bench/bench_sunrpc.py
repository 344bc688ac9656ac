"""Requests per second of glusterd2's SunRPC server, and of glusterd1's, under the same load.

The load is what every client mount and brick reconnect costs a management daemon: GETSPEC for a
volume's client volfile, then PORTBYBRICK for one of its bricks (GLUSTER_PROTOCOL.md §8.2, §4.2),
repeated back to back by a few concurrent synthetic clients (separate processes, one connection
each, one call in flight, as GlusterFS clients do). The clients speak through gd2.xdr.

glusterd1 (Debian's glusterfs-server 10.3) runs in a temp dir as in
reference/glusterd1-10.3/cmdlines.txt with one created (not started) volume v1; glusterd2's server
runs in its own process and serves the very volfile glusterd1 returned, so both answer the same
bytes. The brick is not started in either, so PORTBYBRICK answers op_ret -1 on both: the lookup is
what is measured. Run as root from the repository root with the venv's python:

    python bench/bench_sunrpc.py [--seconds 5] [--clients 4] [--only gd2|gd1]

Prints requests/s for each server and the ratio glusterd2 / glusterd1. Everything started is
stopped by PID at the end, also on failure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _glusterd1 import GLUSTERD, DefaultPathGuard, Glusterd1Node

from gd2.xdr import (
    GetspecReply,
    GetspecRequest,
    PortByBrickReply,
    PortByBrickRequest,
    RecordReassembler,
    RpcCall,
    decode_reply,
    encode_call,
    make_dict,
    rpc,
)

VOLUME = "v1"
SYNTHETIC_VOLFILE = "volume v1-client-0\n    type protocol/client\n    option remote-host 127.0.0.1\nend-volume\n" * 24

# What every 10.x client sends; glusterd1 answers ENOTSUP without it (§3.2).
OP_VERSIONS = make_dict({"max-op-version": 100000, "min-op-version": 1})

SERVER_SCRIPT = """
import logging, sys, structlog, trio
from gd2.sunrpc import StaticVolfileSource, SunrpcServer, serve_sunrpc

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr),
                    wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

async def main():
    volfile = sys.stdin.read()
    server = SunrpcServer(StaticVolfileSource({sys.argv[3]: volfile}))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_sunrpc, server, sys.argv[1], int(sys.argv[2]))
        print("ready", port, flush=True)

trio.run(main)
"""


def progress(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


# ---- the load -----------------------------------------------------------------------------------------


class SyncClient:
    """A blocking management connection."""

    def __init__(self, address: str, port: int) -> None:
        self.sock = socket.create_connection((address, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reassembler = RecordReassembler(1 << 24)
        self.pending: list[bytes] = []
        self.xid = 0

    def call(self, prog: int, vers: int, proc: int, args: object, result_type: type) -> object:
        self.xid += 1
        call = RpcCall(self.xid, prog, vers, proc, args, rpc.AUTH_GLUSTERFS_V2, bytes(24))  # type: ignore[arg-type]
        self.sock.sendall(encode_call(call))
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            self.pending += self.reassembler.feed(data)
        reply = decode_reply(self.pending.pop(0), result_type)
        if not reply.success or reply.xid != self.xid:
            raise RuntimeError(f"bad reply {reply}")
        return reply.result

    def close(self) -> None:
        self.sock.close()


def fetch_volfile(address: str, port: int, key: str) -> str:
    client = SyncClient(address, port)
    try:
        result = client.call(rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, key, OP_VERSIONS), GetspecReply)
    finally:
        client.close()
    assert isinstance(result, GetspecReply)
    if result.op_ret < 0:
        raise RuntimeError(f"GETSPEC {key} failed: errno {result.op_errno}")
    return result.spec


def _load_worker(
    address: str, port: int, brick: str, start_at: float, seconds: float, out: multiprocessing.Queue  # type: ignore[type-arg]
) -> None:
    client = SyncClient(address, port)
    getspec, portbybrick = GetspecRequest(1, VOLUME, OP_VERSIONS), PortByBrickRequest(brick)
    while time.time() < start_at:
        time.sleep(0.001)
    count, end = 0, time.time() + seconds
    while time.time() < end:
        spec = client.call(rpc.HANDSHAKE_PROGRAM, 2, 2, getspec, GetspecReply)
        port_reply = client.call(rpc.PORTMAP_PROGRAM, 1, 1, portbybrick, PortByBrickReply)
        assert isinstance(spec, GetspecReply) and spec.op_ret > 0 and isinstance(port_reply, PortByBrickReply)
        count += 2
    client.close()
    out.put(count)


def measure(address: str, port: int, brick: str, clients: int, seconds: float) -> float:
    """Requests per second over all clients, after a short warm-up."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 1.0
    workers = [
        context.Process(target=_load_worker, args=(address, port, brick, start_at, seconds, queue))
        for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    try:
        total: int = sum(queue.get(timeout=seconds + 60) for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return total / seconds


# ---- the servers --------------------------------------------------------------------------------------


def stop_pid(pid: int, grace_s: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


@contextmanager
def glusterd1(address: str, root: Path) -> Iterator[tuple[int, str]]:
    """A glusterd1 with volume v1 created; yields (port, brick path)."""
    node = Glusterd1Node(root, address)
    node.prepare()
    guard = DefaultPathGuard()
    log = open(root / "glusterd.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(node.daemon_argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(node.cli_argv("volume", "list"), capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"glusterd1 did not start; see {root}/log")
            time.sleep(0.05)
        brick = node.brick("b1")
        subprocess.run(node.cli_argv("volume", "create", VOLUME, brick, "force"), check=True, capture_output=True)
        yield 24007, brick.split(":", 1)[1]
    finally:
        stop_pid(proc.pid)
        proc.wait()
        log.close()
        for note in guard.restore():
            progress(note)


@contextmanager
def glusterd2_server(address: str, port: int, volfile: str) -> Iterator[int]:
    argv = [sys.executable, "-c", SERVER_SCRIPT, address, str(port), VOLUME]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(volfile)
        proc.stdin.close()
        line = proc.stdout.readline().split()
        if line[:1] != ["ready"]:
            raise RuntimeError("glusterd2's SunRPC server did not start")
        yield int(line[1])
    finally:
        stop_pid(proc.pid)
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--only", choices=["gd1", "gd2"])
    parser.add_argument("--gd1-address", default="127.0.0.191")
    parser.add_argument("--gd2-address", default="127.0.0.190")
    parser.add_argument("--gd2-port", type=int, default=30190)
    args = parser.parse_args()

    volfile, brick, gd1_rate = SYNTHETIC_VOLFILE, "/bricks/b1", None
    if args.only != "gd2":
        if not Path(GLUSTERD).exists():
            progress(f"{GLUSTERD} missing: install glusterfs-server, or use --only gd2")
            return 2
        root = Path(tempfile.mkdtemp(prefix="bench-sunrpc-", dir="/var/tmp"))
        try:
            progress(f"starting glusterd1 on {args.gd1_address}:24007 in {root}")
            with glusterd1(args.gd1_address, root) as (port, brick):
                volfile = fetch_volfile(args.gd1_address, port, VOLUME)
                progress(f"glusterd1: {args.clients} clients for {args.seconds:.0f} s")
                gd1_rate = measure(args.gd1_address, port, brick, args.clients, args.seconds)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    gd2_rate = None
    if args.only != "gd1":
        with glusterd2_server(args.gd2_address, args.gd2_port, volfile) as port:
            assert fetch_volfile(args.gd2_address, port, VOLUME) == volfile
            progress(f"glusterd2: {args.clients} clients for {args.seconds:.0f} s")
            gd2_rate = measure(args.gd2_address, port, brick, args.clients, args.seconds)

    print(f"load: GETSPEC {VOLUME} ({len(volfile.encode())} B volfile) + PORTBYBRICK {brick}, "
          f"{args.clients} concurrent clients, {args.seconds:.0f} s, {os.cpu_count()} CPUs")  # fmt: skip
    if gd1_rate is not None:
        print(f"  glusterd1 10.3:      {gd1_rate:10,.0f} requests/s")
    if gd2_rate is not None:
        print(f"  glusterd2 (sunrpc):  {gd2_rate:10,.0f} requests/s")
    if gd1_rate and gd2_rate:
        print(f"  ratio glusterd2 / glusterd1: {gd2_rate / gd1_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
