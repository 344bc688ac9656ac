"""What a daemon is (a spec), what we can observe of it, and the backend interface.

A backend knows *how* a process runs (a plain daemonizing process here; a
systemd transient unit later); the brick and self-heal managers know *what*
to run.  Every backend must find a daemon again after glusterd2 restarts,
which is why a spec names its pidfile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class DaemonSpec:
    """A process to run: its command line and where it records its pid."""

    name: str  # unique on this node, e.g. "brick-gv0-127.0.0.1-bricks-b1"
    argv: tuple[str, ...]
    pidfile: Path
    logfile: Path
    # Text that /proc/<pid>/cmdline must contain for a pid to count as this
    # daemon (pids are reused; a stale pidfile must not adopt a stranger).
    identity: str
    env: dict[str, str] = field(default_factory=dict)
    # Directories the daemon expects to exist (for its -S socket, say).
    runtime_dirs: tuple[Path, ...] = ()
    # Names of daemons that must be running before this one starts (supervisor).
    depends_on: tuple[str, ...] = ()
    # A brick's path: it is ready once it has signed in with this name over portmap.
    signs_in_as: str | None = None
    # Appended by backends that keep the process in the foreground (systemd
    # is its parent): ``-N`` for glusterfsd, which otherwise daemonizes.
    foreground_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonState:
    running: bool
    pid: int | None = None


def log_tail(path: Path, lines: int = 4) -> str:
    """The last lines of a daemon's log, for error messages."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line[-300:] for line in text[-lines:]) or "(empty log)"


class DaemonBackend(Protocol):
    async def start(self, spec: DaemonSpec) -> int:
        """Start ``spec`` and return its pid once the daemon reports ready.

        Raises ``gd2.errors.GD2Error`` (with the daemon's last log lines)
        when it fails to start.
        """
        ...

    async def stop(self, spec: DaemonSpec, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; safe to call twice."""
        ...

    async def state(self, spec: DaemonSpec) -> DaemonState: ...


class BrickRegistry(Protocol):
    """What the portmap registry (gd2.sunrpc) tells the services about bricks.

    Defined here, implemented by the SunRPC server, passed in by the
    composition root: services never import the entry-point layer.
    """

    def port_of(self, brick_path: str) -> int | None: ...

    def ports_in_use(self) -> set[int]: ...

    async def wait_signed_in(self, brick_path: str) -> int:
        """Wait until a brick with this path signs in; returns its port."""
        ...


class SignedInBrick(Protocol):
    """One brick signed in over portmap, as the registry reports it."""

    @property
    def brick(self) -> str:
        """The brick path it signed in with."""
        ...

    @property
    def port(self) -> int: ...

    @property
    def pid(self) -> int: ...


class BrickSignIns(Protocol):
    """The portmap registry seen by the service that publishes this node's bricks
    (gd2.commands.brick_state): a snapshot of the sign-ins, and a wake-up on every change."""

    def entries(self) -> Sequence[SignedInBrick]:
        """Every brick signed in right now."""
        ...

    def listen(self, listener: Callable[[object], None]) -> Callable[[], None]:
        """Call listener (synchronously; it must not block) on every sign-in and sign-out until
        the returned function is called."""
        ...
