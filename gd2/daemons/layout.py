"""Where a node's GlusterFS daemons keep their files and what their command lines are.

Pure: from a volume, a brick and this node's directories to a DaemonSpec.
The brick command line follows glusterd1 10.x (GLUSTER_PROTOCOL.md §6.1),
with the listen port always given explicitly: without one, glusterfsd 10.x
binds 24007, which is ours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gd2.api.models import Brick, Volume
from gd2.daemons.base import DaemonSpec
from gd2.volgen.keys import brick_export_name, brick_volfile_id, shd_volfile_id

GLUSTERFSD = "/usr/sbin/glusterfsd"
GLUSTERFS = "/usr/sbin/glusterfs"
SHD_CLIENT_PID = "-6"  # GF_CLIENT_PID_SELF_HEALD: AFR/EC treat the process as the heal daemon


@dataclass(frozen=True)
class NodePaths:
    """The directories and management endpoint of this glusterd2."""

    rundir: Path
    logdir: Path
    address: str
    sunrpc_port: int
    peer_id: str


def _socket_path(rundir: Path, what: str) -> Path:
    # Unix socket paths are limited to 108 bytes: name them by a hash, as glusterd1 does.
    return rundir / "sockets" / f"{hashlib.sha256(what.encode()).hexdigest()[:16]}.socket"


def brick_spec(volume: Volume, brick: Brick, port: int, node: NodePaths) -> DaemonSpec:
    """The glusterfsd that exports ``brick`` on ``port``."""
    exp = brick_export_name(brick.path)
    pidfile = node.rundir / "vols" / volume.name / f"{brick.host}-{exp}.pid"
    logfile = node.logdir / "bricks" / f"{exp}.log"
    volfile_id = brick_volfile_id(volume.name, brick.host, brick.path)
    argv = (
        GLUSTERFSD,
        "-s", node.address,
        "--volfile-server-port", str(node.sunrpc_port),
        "--volfile-id", volfile_id,
        "-p", str(pidfile),
        "-S", str(_socket_path(node.rundir, f"{volume.name}/{brick.host}-{exp}")),
        "--brick-name", brick.path,
        "-l", str(logfile),
        "--xlator-option", f"*-posix.glusterd-uuid={node.peer_id}",
        "--process-name", "brick",
        "--brick-port", str(port),
        "--xlator-option", f"{volume.name}-server.listen-port={port}",
        "--xlator-option", f"transport.socket.bind-address={brick.host}",
    )
    return DaemonSpec(name=f"brick {volume.name} {brick.host}:{brick.path}", argv=argv, pidfile=pidfile,
                      logfile=logfile, identity=f"--volfile-id {volfile_id} ",
                      runtime_dirs=(node.rundir / "sockets",), signs_in_as=brick.path,
                      foreground_args=("-N",))


def shd_spec(volume: Volume, node: NodePaths) -> DaemonSpec:
    """A self-heal daemon for one replicate/disperse volume.

    One plain client process per volume, without ``--process-name glustershd``
    (which would switch it into glusterd1's multiplexed mode and need a
    pidfile in every GETSPEC reply; GLUSTER_PROTOCOL.md §6.3).
    """
    pidfile = node.rundir / "shd" / volume.name / f"{volume.name}-shd.pid"
    logfile = node.logdir / "glustershd" / f"{volume.name}.log"
    argv = (
        GLUSTERFS,
        "-s", node.address,
        "--volfile-server-port", str(node.sunrpc_port),
        "--volfile-id", shd_volfile_id(volume.name),
        "-p", str(pidfile),
        "-l", str(logfile),
        "-S", str(_socket_path(node.rundir, f"shd/{volume.name}")),
        "--xlator-option", f"*replicate*.node-uuid={node.peer_id}",
        f"--client-pid={SHD_CLIENT_PID}",
    )
    return DaemonSpec(name=f"shd {volume.name}", argv=argv, pidfile=pidfile, logfile=logfile,
                      identity=f"--volfile-id shd/{volume.name} ", runtime_dirs=(node.rundir / "sockets",),
                      foreground_args=("-N",))
