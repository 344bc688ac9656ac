"""The daemons plugins run for volumes (bitrot: bitd and the scrubber), under the node's supervisor.

For each *started* volume with bricks on this node, each plugin that runs
daemons is asked once per change of the volume record (or of the plugin's
contributions) which daemons this node should run; their files (volfiles)
are written under the plugin's state directory, and the specs are ensured
under the same supervisor as bricks (backoff, crash loops, adoption after a
restart by pidfile).  Daemons no longer wanted (volume stopped, option off)
are released; a changed spec or file is restarted.  While a plugin is down,
its daemons keep running as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import structlog
import trio

from gd2.commands import keys
from gd2.daemons.base import DaemonSpec
from gd2.daemons.supervisor import Supervisor
from gd2.errors import GD2Error
from gd2.plugins.host import PluginHost
from gd2.plugins.model import PluginDaemon
from gd2.store import Store

log = structlog.get_logger("gd2.plugins")


def _write_atomically(path: Path, content: str) -> bool:
    """Write ``content`` unless the file already has it; True when it changed."""
    try:
        if path.read_text() == content:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as file:
        file.write(content)
    os.replace(tmp, path)
    return True


def _local(volume: dict[str, Any], peer_id: str) -> bool:
    return volume.get("state") == "Started" and any(b.get("peer_id") == peer_id for b in volume.get("bricks", ()))


class PluginDaemons:
    def __init__(self, store: Store, host: PluginHost, supervisor: Supervisor, peer_id: str,
                 interval: float = 30.0) -> None:
        self._store = store
        self._host = host
        self._supervisor = supervisor
        self._peer_id = peer_id
        self._interval = interval
        self._asked: dict[tuple[str, str], tuple[int, int, list[tuple[DaemonSpec, str]]]] = {}
        self._wanted: dict[str, tuple[DaemonSpec, str]] = {}  # spec name -> (spec, hash of its files)
        self._wake = trio.Event()

    def poke(self) -> None:
        self._wake.set()

    def running(self) -> list[str]:
        return sorted(self._wanted)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reconcile when poked (a volume changed, a plugin came or went: gd2.daemon.plugging), and
        every ``interval`` in any case."""
        task_status.started()
        while True:
            try:
                await self.reconcile()
            except GD2Error as exc:
                log.warning("cannot reconcile plugin daemons now", error=exc.message)
            with trio.move_on_after(self._interval):
                await self._wake.wait()
            self._wake = trio.Event()

    def _spec(self, plugin: str, daemon: PluginDaemon) -> tuple[DaemonSpec, str]:
        root = self._host.plugin_statedir(plugin).resolve()
        digest = hashlib.sha256()
        for file in daemon.files:
            path = Path(file.path).resolve()
            if not path.is_relative_to(root):
                raise GD2Error(f"plugin {plugin}: daemon {daemon.name} wants to write {file.path}, outside {root}")
            digest.update(file.path.encode() + b"\0" + file.content.encode() + b"\0")
        spec = DaemonSpec(name=f"plugin {plugin} {daemon.name}", argv=daemon.argv, pidfile=Path(daemon.pidfile),
                          logfile=Path(daemon.logfile), identity=daemon.identity, env=dict(daemon.env),
                          runtime_dirs=(Path(daemon.pidfile).parent,),
                          depends_on=tuple(f"plugin {plugin} {d}" for d in daemon.depends_on),
                          foreground_args=daemon.foreground_args)
        return spec, digest.hexdigest()

    async def _ask(self, plugin: str, volume: dict[str, Any]) -> list[tuple[DaemonSpec, str]]:
        daemons = await self._host.daemons(plugin, json.dumps(volume))
        specs = []
        for daemon in daemons:
            spec, digest = self._spec(plugin, daemon)
            for file in daemon.files:
                await trio.to_thread.run_sync(_write_atomically, Path(file.path), file.content)
            specs.append((spec, digest))
        return specs

    async def reconcile(self) -> None:
        entries = await self._store.list_prefix(keys.VOLUMES)
        generation, _ = self._host.volgen_rules()
        connected = set(self._host.with_daemons())
        wanted: dict[str, tuple[DaemonSpec, str]] = {}
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            volume = entry.value
            if not isinstance(volume, dict) or not _local(volume, self._peer_id):
                continue
            for plugin in sorted(self._host.known_daemon_plugins()):
                key = (plugin, str(volume.get("name")))
                seen.add(key)
                cached = self._asked.get(key)
                fresh = cached is not None and cached[:2] == (entry.mod_revision, generation)
                if plugin in connected and not fresh:
                    try:
                        specs = await self._ask(plugin, volume)
                    except GD2Error as exc:
                        log.warning("plugin cannot tell its daemons", plugin=plugin, volume=key[1], error=exc.message)
                        specs = cached[2] if cached else []
                    else:
                        self._asked[key] = (entry.mod_revision, generation, specs)
                elif cached is not None:
                    specs = cached[2]
                else:
                    continue
                wanted.update({spec.name: (spec, digest) for spec, digest in specs})
        for key in set(self._asked) - seen:
            del self._asked[key]
        stale = [spec for name, (spec, digest) in self._wanted.items() if wanted.get(name) != (spec, digest)]
        new = [spec for name, (spec, digest) in wanted.items() if self._wanted.get(name) != (spec, digest)]
        self._wanted = wanted
        if stale:
            log.info("stopping plugin daemons", daemons=[s.name for s in stale])
            await self._supervisor.release(stale)
        if new:
            log.info("starting plugin daemons", daemons=[s.name for s in new])
            await self._supervisor.ensure(new)
