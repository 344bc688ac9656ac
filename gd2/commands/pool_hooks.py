"""Hook scripts on every node of the pool, as glusterd1 runs them.

glusterd1 runs an operation's hook scripts on each node that commits it.
:class:`PoolHooks` wraps this node's :class:`~gd2.commands.hooks.VolumeHooks`:
pre scripts run here and then on every other online node (the ``hooks.Pre``
step, awaited: a node whose policy refuses the operation refuses it for the
pool, naming its script); post scripts are queued here and handed to every
other online node (the ``hooks.Post`` step) in the background, after the
transaction's locks are gone, so the reply never waits for another node.  A
node that cannot be reached is skipped at once with a warning (no reconnect
retries: a dead node still counts as online until its lease runs out): its
scripts do not run for that operation.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
import trio

from gd2.commands.hooks import Options, VolumeHooks
from gd2.commands.peers import PeerService
from gd2.errors import GD2Error, Unavailable
from gd2.txn import Executor, StepContext, StepFunctions

log = structlog.get_logger(__name__)

PRE_STEP = "hooks.Pre"
POST_STEP = "hooks.Post"
_BACKLOG = 256


class PoolHooks:
    def __init__(self, local: VolumeHooks, peers: PeerService, executor: Executor, node_id: str, *,
                 call_timeout: float = 70.0) -> None:
        self._local = local
        self._peers = peers
        self._executor = executor
        self._node_id = node_id
        self._call_timeout = call_timeout  # a remote pre phase: its scripts' deadline and some
        self._send, self._receive = trio.open_memory_channel[tuple[str, str, Options]](_BACKLOG)

    async def _others(self) -> list[str]:
        try:
            return [p.id for p in await self._peers.list() if p.online and p.id != self._node_id]
        except GD2Error as exc:
            log.warning("cannot list peers for hook scripts; running them here only", error=exc.message)
            return []

    async def _call(self, node: str, step: str, op: str, volname: str, options: Options) -> None:
        args: dict[str, Any] = {"op": op, "volname": volname, "options": [list(o) for o in options]}
        with trio.fail_after(self._call_timeout):
            await self._executor.run_step(node, uuid.uuid4().hex[:12], "", step, args, False)

    async def pre(self, op: str, volname: str, options: Options = ()) -> None:
        await self._local.pre(op, volname, options)
        refusals: list[GD2Error] = []

        async def one(node: str) -> None:
            try:
                await self._call(node, PRE_STEP, op, volname, options)
            except (Unavailable, trio.TooSlowError) as exc:
                log.warning("pre hook scripts not run on a peer", peer=node, op=op, volume=volname, error=str(exc))
            except GD2Error as exc:  # its policy refused the operation
                refusals.append(exc)

        async with trio.open_nursery() as nursery:
            for node in await self._others():
                nursery.start_soon(one, node)
        if refusals:
            raise refusals[0]

    def post(self, op: str, volname: str, options: Options = ()) -> None:
        self._local.post(op, volname, options)
        try:
            self._send.send_nowait((op, volname, tuple(options)))
        except trio.WouldBlock:
            log.error("too many operations waiting for other nodes' post hook scripts; not sent",
                      op=op, volume=volname)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hand post scripts to the other nodes, one operation after another (in its order)."""
        task_status.started()
        async for op, volname, options in self._receive:
            async with trio.open_nursery() as nursery:
                for node in await self._others():
                    nursery.start_soon(self._post_on, node, op, volname, options)

    async def _post_on(self, node: str, op: str, volname: str, options: Options) -> None:
        try:
            await self._call(node, POST_STEP, op, volname, options)
        except (GD2Error, trio.TooSlowError) as exc:
            log.warning("post hook scripts not run on a peer", peer=node, op=op, volume=volname, error=str(exc))

    # ---- the steps other nodes call -------------------------------------------------------------

    def steps(self) -> tuple[StepFunctions, ...]:
        return (StepFunctions(PRE_STEP, self._pre_here), StepFunctions(POST_STEP, self._post_here))

    @staticmethod
    def _unpack(args: Any) -> tuple[str, str, Options]:
        return str(args["op"]), str(args["volname"]), tuple((str(k), str(v)) for k, v in args.get("options", []))

    async def _pre_here(self, ctx: StepContext, args: Any) -> None:
        await self._local.pre(*self._unpack(args))

    async def _post_here(self, ctx: StepContext, args: Any) -> None:
        self._local.post(*self._unpack(args))  # queued: the caller does not wait for the scripts
