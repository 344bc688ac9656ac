"""In-process peers for transaction tests: a remote :class:`gd2.txn.Executor`.

Each peer is a :class:`gd2.txn.LocalExecutor` of its own.  Calls go through
msgpack both ways and non-GD2 failures come back as ``InternalError``, as
they would over the wire; a peer marked down raises ``Unavailable``.
"""

from __future__ import annotations

from typing import Any

import msgpack
import trio

from gd2.errors import GD2Error, InternalError, Unavailable
from gd2.txn import LocalExecutor


class FakePeers:
    def __init__(self, *executors: LocalExecutor) -> None:
        self._nodes = {e.node_id: e for e in executors}
        self.down: set[str] = set()

    def add(self, executor: LocalExecutor) -> None:
        self._nodes[executor.node_id] = executor

    def node(self, node_id: str) -> LocalExecutor:
        return self._nodes[node_id]

    async def run_step(self, node_id: str, txnid: str, reqid: str, step_name: str, args: Any,
                       undo: bool) -> Any:
        await trio.lowlevel.checkpoint()
        if node_id in self.down or node_id not in self._nodes:
            raise Unavailable(f"peer {node_id} is not reachable")
        wire_args = msgpack.unpackb(msgpack.packb(args, use_bin_type=True), raw=False)
        try:
            result = await self._nodes[node_id].run_step(node_id, txnid, reqid, step_name, wire_args, undo)
        except GD2Error:
            raise
        except Exception as exc:
            raise InternalError(f"{step_name} failed on peer {node_id}: {exc}") from None
        return msgpack.unpackb(msgpack.packb(result, use_bin_type=True), raw=False)
