"""How the benchmarks run the real glusterd1 (Debian glusterfs-server 10.3) beside glusterd2.

One `Glusterd1Node` is one glusterd in its own directory, bound to one loopback address, laid out
as in `reference/glusterd1-10.3/cmdlines.txt`; its CLI reaches it through `--glusterd-sock`.

glusterd1 and its CLI also write outside that directory, whatever the options say (see
`baseline-timings.md`, notable behaviour 8): the CLI creates `geo-replication/` under the package's
default working dir, and glusterd creates `ss_brick/` there and `snaps/` under the system run dir.
`DefaultPathGuard` notes which of them existed before the run and removes, afterwards, only those
the run created, only when they hold nothing but what glusterd1 puts there, and only when no other
glusterd or gluster process is left that could be using them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

GLUSTERD = "/usr/sbin/glusterd"
GLUSTER = "/usr/sbin/gluster"

# Directory outside <tmp> -> the entries glusterd1 10.3 leaves in it.
DEFAULT_PATH_SIDE_EFFECTS: dict[Path, frozenset[str]] = {
    Path("/var/lib/glusterd/geo-replication"): frozenset({"gsyncd_template.conf"}),
    Path("/var/lib/glusterd/ss_brick"): frozenset(),
    Path("/run/gluster/snaps"): frozenset(),
}


@dataclass(frozen=True)
class Glusterd1Node:
    """One glusterd1 with all its state under `root`, listening on `address`."""

    root: Path
    address: str
    glusterd: str = GLUSTERD
    gluster: str = GLUSTER
    name: str = "glusterd1"

    @property
    def socket(self) -> Path:
        return self.root / "gd.sock"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    def prepare(self) -> None:
        """Create the directories glusterd1 expects to exist (it creates only leaf brick dirs)."""
        for sub in ("wd", "run", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def daemon_argv(self) -> list[str]:
        """glusterd in the foreground (-N), every path under `root`, bound to `address`."""
        opt = "--xlator-option"
        return [
            self.glusterd, "-N",
            opt, f"management.working-directory={self.root / 'wd'}",
            opt, f"management.run-directory={self.root / 'run'}",
            opt, f"management.transport.socket.bind-address={self.address}",
            opt, f"management.glusterd-sockfile={self.socket}",
            opt, f"management.logging-directory={self.log_dir}",
            f"--log-file={self.log_dir / 'glusterd.log'}",
            f"--pid-file={self.root / 'glusterd.pid'}",
        ]  # fmt: skip

    def cli_argv(self, *args: str) -> list[str]:
        """A `gluster` CLI call against this node only, logging under `root`."""
        return [
            self.gluster, "--mode=script", f"--glusterd-sock={self.socket}",
            f"--log-file={self.log_dir / 'cli.log'}", *args,
        ]  # fmt: skip

    def brick(self, name: str) -> str:
        """A brick spec `ADDRESS:<root>/<name>` (glusterd1 creates the leaf directory)."""
        return f"{self.address}:{self.root / name}"


def _process_names() -> list[str]:
    names: list[str] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                names.append((entry / "comm").read_text().strip())
            except OSError:
                continue  # the process ended while we looked
    return names


class DefaultPathGuard:
    """Remembers glusterd1's default-path side effects that existed before the run; undoes the rest."""

    def __init__(self) -> None:
        self.preexisting = {path for path in DEFAULT_PATH_SIDE_EFFECTS if path.exists()}

    def restore(self) -> list[str]:
        """Remove what the run created outside <tmp>; return one line per path left in place, with why."""
        created = [path for path in DEFAULT_PATH_SIDE_EFFECTS if path.exists() and path not in self.preexisting]
        if not created:
            return []
        others = sorted({name for name in _process_names() if name in ("glusterd", "gluster")})
        if others:
            return [f"left {path}: other {'/'.join(others)} processes are running" for path in created]
        notes: list[str] = []
        for path in created:
            unexpected = set(os.listdir(path)) - DEFAULT_PATH_SIDE_EFFECTS[path]
            if unexpected:
                notes.append(f"left {path}: unexpected entries {sorted(unexpected)}")
            else:
                shutil.rmtree(path)
        return notes
