"""Sequential RunStep calls per second over mutual TLS on loopback (median of 3 runs).

    GD2_BENCH_ADDRESS=127.0.3.150 .venv/bin/python bench/bench_peer_rpc.py [--calls 500]

One PeerServer and one member PeerClient in the same trio process; each call is a
full round trip (client thread bridge, TLS, grpc, trio handler and back).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import msgpack
import trio

from gd2.peer import (
    Caller,
    HelloReply,
    HelloRequest,
    JoinReply,
    JoinRequest,
    LeaveRequest,
    PeerClient,
    PeerServer,
    StepReply,
    StepRequest,
    TLSMaterial,
    pki,
)


class Echo:
    async def hello(self, request: HelloRequest, caller: Caller) -> HelloReply:
        return HelloReply(peer_id="bench", name="bench", addresses=(), cluster_id="bench", empty=True)

    async def join(self, request: JoinRequest, caller: Caller) -> JoinReply:
        return JoinReply()

    async def leave(self, request: LeaveRequest, caller: Caller) -> None:
        return None

    async def run_step(self, request: StepRequest, caller: Caller) -> StepReply:
        return StepReply(result=request.args)


async def main(address: str, calls: int, runs: int) -> None:
    ca = pki.create_ca("bench")
    server_cert = pki.issue_node_cert(ca, "bench-server", [address])
    client_cert = pki.issue_node_cert(ca, "bench-client", [address])
    server = PeerServer(Echo(), TLSMaterial(ca.cert, server_cert.cert, server_cert.key),
                        address=address, peer_port=0, join_port=0)
    rates = []
    async with trio.open_nursery() as nursery:
        ports = await nursery.start(server.serve)
        tls = TLSMaterial(ca.cert, client_cert.cert, client_cert.key)
        async with PeerClient(address, ports.peer, tls, peer_id="bench-server") as client:
            request = StepRequest(txn_id="t", reqid="r", step="bench.Echo",
                                  args=msgpack.packb({"bricks": ["h:/b1", "h:/b2"]}))
            await client.run_step(request)  # connect and warm up
            for _ in range(runs):
                start = time.perf_counter()
                with trio.fail_after(60):
                    for _ in range(calls):
                        await client.run_step(request)
                rates.append(calls / (time.perf_counter() - start))
        nursery.cancel_scope.cancel()
    print(f"sequential RunStep over mTLS: {statistics.median(rates):.0f} calls/s "
          f"(median of {runs} runs of {calls}; runs: {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    trio.run(main, os.environ.get("GD2_BENCH_ADDRESS", "127.0.0.150"), args.calls, args.runs)
