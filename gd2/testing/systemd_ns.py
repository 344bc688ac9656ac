"""A real systemd, booted as PID 1 of a private namespace, for tests and benchmarks.

The machine's own PID 1 need not be systemd: ``unshare`` gives a fresh PID
and mount namespace in which ``/lib/systemd/systemd --system`` boots in a
fraction of a second with a handful of unit files of our own (D-Bus and
minimal targets) bind-mounted over the real unit directory, so that nothing
of the host's configuration runs (its tmpfiles would wipe /tmp).  The
namespace's ``/run`` is a host directory, which is how the host reaches the
namespace's system bus: ``unix:path=<workdir>/run/dbus/system_bus_socket``.

The network namespace and the filesystem are shared with the host, so a
glusterd2 on the host drives units whose processes reach it over loopback.
Mounts made on the host *after* the boot are not seen inside (propagation
is private): mount brick filesystems first.

PIDs that systemd reports (``MainPID``) are namespace PIDs; :meth:`host_pids`
reads a unit's processes as the host sees them from its cgroup.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

_UNITS = {
    "gd2-test.target": "[Unit]\nDescription=glusterd2 test namespace\nRequires=dbus.socket\nAfter=dbus.socket\n",
    "sysinit.target": "[Unit]\nDescription=sysinit (test namespace)\n",
    "basic.target": "[Unit]\nDescription=basic (test namespace)\n",
    "sockets.target": "[Unit]\nDescription=sockets (test namespace)\n",
    "shutdown.target": "[Unit]\nDescription=shutdown (test namespace)\nDefaultDependencies=no\n",
    "dbus.socket": "[Unit]\nDescription=D-Bus system bus socket\n\n[Socket]\n"
                   "ListenStream=/run/dbus/system_bus_socket\n",
    "dbus.service": "[Unit]\nDescription=D-Bus system bus\nRequires=dbus.socket\n\n[Service]\nType=notify\n"
                    "NotifyAccess=main\nExecStart=/usr/bin/dbus-daemon --system --address=systemd: --nofork "
                    "--nopidfile --systemd-activation --syslog-only\n",
}
_GENERATOR_DIRS = ("/usr/lib/systemd/system-generators", "/usr/lib/systemd/system-environment-generators")
_HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
_counter = itertools.count()


class SystemdNamespace:
    """Boot with :meth:`boot`, stop with :meth:`poweroff` (always; it is idempotent)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.run_dir = workdir / "run"
        self.cgroup = f"gd2-test-{os.getpid()}-{next(_counter)}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bus_address(self) -> str:
        return f"unix:path={self.run_dir / 'dbus' / 'system_bus_socket'}"

    def boot(self, timeout: float = 30.0) -> SystemdNamespace:
        units = self.workdir / "units"
        empty = self.workdir / "empty"
        for directory in (units, empty, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for name, text in _UNITS.items():
            (units / name).write_text(text)
        shutil.copy("/etc/machine-id", self.workdir / "machine-id")
        generators = " ".join(f'[ -d {d} ] && mount --bind "$W/empty" {d};' for d in _GENERATOR_DIRS)
        script = (
            "set -e\n"
            'mount --bind "$W/units" /usr/lib/systemd/system\n'
            "mount -t tmpfs tmpfs /etc/systemd/system\n"
            f"{generators}\n"
            'mount --bind "$W/run" /run\n'
            'mount --bind "$W/machine-id" /etc/machine-id\n'
            "exec env -i container=gd2-test /lib/systemd/systemd --system --unit=gd2-test.target\n"
        )
        (self.workdir / "boot.sh").write_text(script)
        for hierarchy in _HIERARCHIES:
            Path(hierarchy, self.cgroup).mkdir(exist_ok=True)
        cgroups = " ".join(f"{h}/{self.cgroup}/cgroup.procs" for h in _HIERARCHIES)
        log = open(self.workdir / "console.log", "wb")  # noqa: SIM115 - the child keeps it
        # The shell joins the namespace's cgroups first, so systemd owns a subtree of its own.
        self._process = subprocess.Popen(
            ["sh", "-c", f'for f in {cgroups}; do echo $$ > "$f"; done; exec unshare --fork --pid --mount --uts '
                         f'--propagation private --mount-proc sh "$W/boot.sh"'],
            env={"W": str(self.workdir), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        atexit.register(self.poweroff)  # a test run that ends early still powers it off
        deadline = time.monotonic() + timeout
        while not self._running():
            if self._process.poll() is not None or time.monotonic() > deadline:
                console = (self.workdir / "console.log").read_text(errors="replace")[-2000:]
                self.poweroff()
                raise RuntimeError(f"systemd did not boot in the test namespace: {console}")
            time.sleep(0.02)
        return self

    def _running(self) -> bool:
        from jeepney import DBusAddress, Properties
        from jeepney.io.blocking import open_dbus_connection

        if not (self.run_dir / "dbus" / "system_bus_socket").exists():
            return False
        manager = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                              interface="org.freedesktop.systemd1.Manager")
        try:
            with open_dbus_connection(self.bus_address) as connection:
                reply = connection.send_and_get_reply(Properties(manager).get("SystemState"), timeout=2)
        except (OSError, TimeoutError, EOFError):
            return False
        return bool(reply.body) and reply.body[0][1] in ("running", "degraded")

    def host_pids(self, unit: str, slice_: str = "gd2.slice") -> list[int]:
        """The host PIDs of a unit's processes (empty if the unit has none)."""
        procs = Path(_HIERARCHIES[0], self.cgroup, slice_, unit, "cgroup.procs")
        try:
            return [int(line) for line in procs.read_text().split()]
        except FileNotFoundError:
            return []

    def units_in(self, slice_: str = "gd2.slice") -> list[str]:
        """Units with a cgroup under ``slice_`` (running or not yet cleaned up)."""
        try:
            return sorted(entry.name for entry in os.scandir(Path(_HIERARCHIES[0], self.cgroup, slice_))
                          if entry.is_dir())
        except FileNotFoundError:  # no unit yet, or the slice went with the last one
            return []

    def _kill_all(self) -> None:
        for pid in self._pids():  # top-down: the namespace's PID 1 comes first
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _pids(self) -> list[int]:
        """Every process of the namespace (host pids), from its cgroup tree."""
        pids: list[int] = []
        # os.walk skips directories that vanish while it walks (systemd removes them as units go).
        for directory, _subdirs, files in os.walk(Path(_HIERARCHIES[0], self.cgroup)):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError, ValueError):
                    pids += [int(pid) for pid in Path(directory, "cgroup.procs").read_text().split()]
        return pids

    def poweroff(self, timeout: float = 15.0) -> None:
        """PowerOff over D-Bus; SIGKILL whatever is left in the namespace's cgroup after ``timeout``.

        Judged by the cgroup, not by the ``unshare`` process: that one may have been
        killed already (by a sweep of processes that name a temporary directory, say),
        which leaves systemd running as an orphan.
        """
        if self._pids():
            with contextlib.suppress(OSError, TimeoutError, EOFError):
                from jeepney import DBusAddress, new_method_call
                from jeepney.io.blocking import open_dbus_connection

                manager = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                                      interface="org.freedesktop.systemd1.Manager")
                with open_dbus_connection(self.bus_address) as connection:
                    connection.send_and_get_reply(new_method_call(manager, "PowerOff"), timeout=5)
            deadline = time.monotonic() + timeout
            while self._pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self._pids():
                self._kill_all()  # the namespace's PID 1 first: the kernel then kills the rest
                deadline = time.monotonic() + 10
                while self._pids() and time.monotonic() < deadline:
                    time.sleep(0.05)
        process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for hierarchy in _HIERARCHIES:
            _remove_cgroup(Path(hierarchy, self.cgroup))
        atexit.unregister(self.poweroff)


def _remove_cgroup(root: Path) -> None:
    if not root.exists():
        return
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        root.rmdir()
