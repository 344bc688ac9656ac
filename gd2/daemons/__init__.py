"""The daemons glusterd2 runs: bricks and self-heal, behind one backend interface."""

from gd2.daemons.base import DaemonBackend, DaemonSpec, DaemonState

__all__ = ["DaemonBackend", "DaemonSpec", "DaemonState"]
