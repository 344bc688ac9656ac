"""Hook scripts around volume operations, with glusterd1's arguments and timing.

Every script of ``hooks/1/<op>/<phase>/`` (gd2.hooks.layout) is run as
``SCRIPT --volname=NAME [op arguments]``, the arguments of glusterd1
(glusterd-hooks.c, glusterd_hooks_add_op_args):

    create, delete    (none)
    start             --first=yes|no --version=1 --volume-op=start --gd-workdir=DIR
    stop              --last=yes|no
    set               -o KEY=VALUE... --gd-workdir=DIR
    reset, add-brick  --version=1 --volume-op=OP --gd-workdir=DIR

``--first``: no volume was started before this one (pre) / it is the only
started one (post); ``--last``: it is the last started volume (pre) / none is
started any more (post); both counted over the pool when the script runs, as
glusterd1 does.  ``DIR`` is glusterd2's localstatedir.

When: pre scripts run after the request has been checked and
before the transaction takes its locks, one after another; the request waits
for them.  A failing pre script (non-zero exit, killed, not runnable) is
logged and the operation goes on, as in glusterd1, which ignores their
status; with ``pre-hook-failure = "refuse"`` it refuses the operation instead,
naming the script and the end of its stderr, before anything has changed.
Post scripts run only after the operation succeeded and its transaction
released its locks, in the background: the reply does not wait for them, and
a script may call ``gd2ctl`` on the same volume.  The post scripts of one
volume run in the order of its operations; a few volumes' at a time.

Where: this class runs this node's scripts; gd2.commands.pool_hooks runs
every node's, as glusterd1 does (the other nodes through a step).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
import trio

from gd2.api.models import VolumeState
from gd2.commands import keys
from gd2.errors import Conflict, GD2Error
from gd2.hooks import HOOK_VERSION, POST, PRE, HookRunner, ensure_layout, script_dir, select_scripts
from gd2.store import Store

log = structlog.get_logger(__name__)

Options = Sequence[tuple[str, str]]


class HookPoints(Protocol):
    """What the volume services call around an operation (``op`` is glusterd1's directory name)."""

    async def pre(self, op: str, volname: str, options: Options = ()) -> None: ...

    def post(self, op: str, volname: str, options: Options = ()) -> None: ...


class _NoHooks:
    async def pre(self, op: str, volname: str, options: Options = ()) -> None:
        return None

    def post(self, op: str, volname: str, options: Options = ()) -> None:
        return None


NO_HOOKS: HookPoints = _NoHooks()
"""For services built without hooks (unit tests)."""


def script_args(op: str, phase: str, volname: str, *, workdir: Path, started: int,
                options: Options = ()) -> list[str]:
    """The arguments glusterd1 gives every script of ``op``/``phase`` (after the script's path).
    ``started``: how many volumes are started when the script runs."""
    args = [f"--volname={volname}"]
    if op == "start":
        first = started == 0 if phase == PRE else started == 1
        args += [f"--first={_yes(first)}", f"--version={HOOK_VERSION}", "--volume-op=start",
                 f"--gd-workdir={workdir}"]
    elif op == "stop":
        last = started == 1 if phase == PRE else started == 0
        args.append(f"--last={_yes(last)}")
    elif op == "set":
        args += ["-o", *(f"{key}={value}" for key, value in options), f"--gd-workdir={workdir}"]
    elif op in ("reset", "add-brick"):
        args += [f"--version={HOOK_VERSION}", f"--volume-op={op}", f"--gd-workdir={workdir}"]
    return args


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@dataclass(frozen=True)
class _Batch:
    """The post scripts of one operation, waiting to run."""

    op: str
    volname: str
    options: tuple[tuple[str, str], ...]


class VolumeHooks:
    """Runs the hook scripts under ``root`` (``<localstatedir>/hooks``) around volume operations.

    ``run`` is the background task of the post scripts (start it in the daemon's nursery);
    ``parallel`` volumes' post scripts run at a time; ``backlog`` operations may wait (more
    are dropped with an error in the log: an operation never waits for post scripts).
    """

    def __init__(self, runner: HookRunner, store: Store, *, root: Path, workdir: Path,
                 refuse_on_pre_failure: bool = False, parallel: int = 4, backlog: int = 256) -> None:
        self._runner = runner
        self._store = store
        self._root = root
        self._workdir = workdir
        self._refuse = refuse_on_pre_failure
        self._parallel = parallel
        self._send, self._receive = trio.open_memory_channel[_Batch](backlog)

    async def _scripts(self, op: str, phase: str) -> list[Path]:
        return await trio.to_thread.run_sync(select_scripts, script_dir(self._root, op, phase))

    async def _started(self) -> int:
        entries = await self._store.list_prefix(keys.VOLUMES)
        return sum(e.value.get("state") == VolumeState.STARTED.value for e in entries)

    async def _args(self, op: str, phase: str, volname: str, options: Options) -> list[str]:
        started = 0
        if op in ("start", "stop"):
            try:
                started = await self._started()
            except GD2Error as exc:  # the scripts still run; --first/--last say "no"
                log.warning("cannot count started volumes for hook scripts", error=exc.message)
                started = -1
        return script_args(op, phase, volname, workdir=self._workdir, started=started, options=options)

    async def pre(self, op: str, volname: str, options: Options = ()) -> None:
        """Run the pre scripts of ``op`` one by one; with ``refuse_on_pre_failure``, the
        first that fails refuses the operation (Conflict)."""
        scripts = await self._scripts(op, PRE)
        if not scripts:
            return
        args = await self._args(op, PRE, volname, options)
        for script in scripts:
            outcome = await self._runner.run(script, args)
            if outcome.ok:
                log.info("hook script ran", hook=str(script), volume=volname)
                continue
            log.error("pre hook script failed", hook=str(script), volume=volname, result=outcome.describe(),
                      refused=self._refuse)
            if self._refuse:
                raise Conflict(f"volume {op} {volname} refused by hook script {script}: {outcome.describe()}",
                               {"hook": str(script), "name": volname})

    def post(self, op: str, volname: str, options: Options = ()) -> None:
        """Queue the post scripts of ``op`` (after it succeeded and released its locks); never waits."""
        try:
            self._send.send_nowait(_Batch(op, volname, tuple(options)))
        except trio.WouldBlock:
            log.error("post hook scripts not run: too many waiting", op=op, volume=volname)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Create the hook directories, then run queued post scripts until cancelled."""
        try:
            await trio.to_thread.run_sync(ensure_layout, self._root)
        except OSError as exc:
            log.warning("cannot create the hook script directories", root=str(self._root), error=str(exc))
        limiter = trio.CapacityLimiter(self._parallel)
        waiting: dict[str, deque[_Batch]] = {}  # by volume, in the order of its operations
        async with trio.open_nursery() as nursery:
            task_status.started()
            async for batch in self._receive:
                queue = waiting.get(batch.volname)
                if queue is not None:
                    queue.append(batch)  # its drain task takes it after the ones before
                    continue
                waiting[batch.volname] = deque([batch])
                nursery.start_soon(self._drain, waiting, batch.volname, limiter)

    async def _drain(self, waiting: dict[str, deque[_Batch]], volname: str, limiter: trio.CapacityLimiter) -> None:
        queue = waiting[volname]
        try:
            while queue:
                async with limiter:
                    try:
                        await self._run_post(queue[0])
                    except Exception:  # a bug here must not stop the daemon
                        log.exception("post hook scripts failed to run", op=queue[0].op, volume=volname)
                queue.popleft()
        finally:
            del waiting[volname]

    async def _run_post(self, batch: _Batch) -> None:
        scripts = await self._scripts(batch.op, POST)
        if not scripts:
            return
        args = await self._args(batch.op, POST, batch.volname, batch.options)
        for script in scripts:
            outcome = await self._runner.run(script, args)
            if outcome.ok:
                log.info("hook script ran", hook=str(script), volume=batch.volname)
            else:
                log.error("post hook script failed", hook=str(script), volume=batch.volname,
                          result=outcome.describe())
