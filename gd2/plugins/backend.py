"""Run plugins as child processes: a DaemonBackend whose start ends with the handshake.

A plugin is not a daemonizing GlusterFS process: it stays our child, with
stdin a pipe we never write (it exits at end-of-file, so it cannot outlive
glusterd2), stdout carrying the handshake line, and stderr going to
glusterd2's log with the plugin's name (and to ``spec.logfile``, whose tail
the supervisor quotes when the plugin dies).  ``start`` returns once the
handshake line is read and checked; the supervisor's readiness hook then
connects and asks Describe (gd2.plugins.host).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence

import structlog
import trio

from gd2.daemons.base import DaemonSpec, DaemonState, log_tail
from gd2.plugins.handshake import PROTOCOL_VERSIONS, Handshake, PluginRefused, parse_handshake

log = structlog.get_logger("gd2.plugins")

_MAX_LINE = 64 * 1024


class _Lines:
    """Lines from a byte stream (the last partial line at end-of-file counts)."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""
        self._eof = False

    async def readline(self) -> str | None:
        while b"\n" not in self._buffer and not self._eof and len(self._buffer) < _MAX_LINE:
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                self._eof = True
            self._buffer += chunk
        if not self._buffer:
            return None
        line, sep, rest = self._buffer.partition(b"\n")
        if not sep and len(line) >= _MAX_LINE:
            line, rest = line[:_MAX_LINE], line[_MAX_LINE:]
        self._buffer = rest
        return line.decode(errors="replace").rstrip("\r")


class PluginBackend:
    """Plugins as children of this glusterd2 (never adopted: they exit with it)."""

    def __init__(self, *, plugin_of: Callable[[DaemonSpec], str], start_timeout: float,
                 offered: Sequence[int] = PROTOCOL_VERSIONS, on_exit: Callable[[str], None] | None = None) -> None:
        self._plugin_of = plugin_of
        self._start_timeout = start_timeout
        self._offered = tuple(offered)
        self._on_exit = on_exit
        self._procs: dict[str, trio.Process] = {}
        self._handshakes: dict[str, Handshake] = {}
        self.refused: dict[str, str] = {}  # spec name -> why its handshake was refused (not worth retrying)
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the tasks that read the plugins' output; on cancellation, stop every plugin (shielded)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True), trio.move_on_after(self._start_timeout):
                async with trio.open_nursery() as stopping:
                    for proc in list(self._procs.values()):
                        stopping.start_soon(self._terminate, proc, 3.0)

    def handshake(self, name: str) -> Handshake | None:
        return self._handshakes.get(name)

    async def start(self, spec: DaemonSpec) -> int:
        if self._nursery is None:
            raise PluginRefused(f"{spec.name}: the plugin backend is not running")
        old = self._procs.get(spec.name)
        if old is not None and old.returncode is None:
            return old.pid
        plugin = self._plugin_of(spec)
        for directory in (spec.logfile.parent, *spec.runtime_dirs):
            directory.mkdir(parents=True, exist_ok=True)
        try:
            proc = await trio.lowlevel.open_process(
                list(spec.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={**os.environ, **spec.env}, start_new_session=True)
        except OSError as exc:
            raise PluginRefused(f"plugin {plugin}: cannot run {spec.argv[0]}: {exc.strerror}") from None
        assert proc.stdout is not None and proc.stderr is not None
        self._procs[spec.name] = proc
        self._handshakes.pop(spec.name, None)
        self._nursery.start_soon(self._pump, _Lines(proc.stderr), plugin, spec, "stderr")
        lines = _Lines(proc.stdout)
        try:
            with trio.fail_after(self._start_timeout):
                first = await lines.readline()
                if first is None:
                    await proc.wait()
                    raise PluginRefused(f"plugin {plugin} exited (status {proc.returncode}) before its handshake; "
                                        f"log: {log_tail(spec.logfile)}")
            shake = parse_handshake(first, plugin, self._offered)
        except trio.TooSlowError:
            await self._terminate(proc, 1.0)
            raise PluginRefused(f"plugin {plugin} printed no handshake within {self._start_timeout:g}s") from None
        except PluginRefused as exc:
            if proc.returncode is None:  # it ran and said something we refuse: retrying will not help
                self.refused[spec.name] = exc.message
            await self._terminate(proc, 1.0)
            raise
        self._handshakes[spec.name] = shake
        self._nursery.start_soon(self._watch, proc, lines, plugin, spec)
        log.info("plugin started", plugin=plugin, pid=proc.pid, socket=shake.address, protocol=shake.protocol)
        return proc.pid

    async def _pump(self, lines: _Lines, plugin: str, spec: DaemonSpec, stream: str) -> None:
        async with await trio.open_file(spec.logfile, "a", errors="replace") as logfile:
            while (line := await lines.readline()) is not None:
                await logfile.write(line + "\n")
                await logfile.flush()
                if line.strip():
                    log.info(line, plugin=plugin, stream=stream)

    async def _watch(self, proc: trio.Process, lines: _Lines, plugin: str, spec: DaemonSpec) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, lines, plugin, spec, "stdout")
            await proc.wait()
        if self._on_exit is not None:
            self._on_exit(spec.name)

    @staticmethod
    async def _terminate(proc: trio.Process, grace: float) -> None:
        with trio.CancelScope(shield=True):
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                with trio.move_on_after(grace):
                    await proc.wait()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    async def stop(self, spec: DaemonSpec, grace: float) -> None:
        proc = self._procs.get(spec.name)
        if proc is None:
            return
        await self._terminate(proc, grace)
        self._handshakes.pop(spec.name, None)

    async def state(self, spec: DaemonSpec) -> DaemonState:
        await trio.lowlevel.checkpoint()
        proc = self._procs.get(spec.name)
        running = proc is not None and proc.returncode is None
        return DaemonState(running=running, pid=proc.pid if proc is not None and running else None)
