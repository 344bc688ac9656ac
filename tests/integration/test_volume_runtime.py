"""Volume start/stop/status and options through the real daemon, with real bricks.

The bad-input cases of the mount milestone that need a whole daemon live here:
a brick directory deleted while stopped, bricks adopted after glusterd2
restarts, an unknown GETSPEC key through the real volfile source, option
changes reaching a mounted client through FETCHSPEC.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gd2.testing import DaemonProcess
from gd2.xdr import GetspecReply, GetspecRequest, RpcCall, SigninReply, SigninRequest, decode_reply, encode_call
from gd2.xdr import rpc as rpcconst


def _status(gd2: DaemonProcess, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(gd2.ctl("--json", "volume", "status", name, check=True).stdout)
    return result


def _wait_online(gd2: DaemonProcess, name: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(gd2, name)
        if all(b["online"] for b in status["bricks"]):
            return status
        time.sleep(0.1)
    raise AssertionError(f"bricks not online: {status}")


@pytest.fixture
def replica(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> Iterator[tuple[DaemonProcess, list[Path]]]:
    gd2 = daemon_factory()
    bricks = [brick_fs / "b0", brick_fs / "b1"]
    gd2.ctl("volume", "create", "rv", "replica", "2", *[f"{gd2.address}:{b}" for b in bricks], "force", check=True)
    yield gd2, bricks
    if gd2.process is not None:
        gd2.ctl("volume", "stop", "rv", "force")


def test_start_twice_and_stop_twice_are_refused(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, _ = replica
    gd2.ctl("volume", "start", "rv", check=True)
    again = gd2.ctl("volume", "start", "rv")
    assert again.returncode == 1 and "already started" in again.stderr
    delete = gd2.ctl("volume", "delete", "rv")
    assert delete.returncode == 1 and "stop it before deleting" in delete.stderr
    gd2.ctl("volume", "stop", "rv", check=True)
    again = gd2.ctl("volume", "stop", "rv")
    assert again.returncode == 1 and "not started" in again.stderr
    status = _status(gd2, "rv")
    assert status["state"] == "Stopped" and not any(b["online"] or b["pid"] for b in status["bricks"])
    assert not status["daemons"][0]["online"]


def test_a_deleted_brick_directory_fails_alone(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, bricks = replica
    shutil.rmtree(bricks[1])
    result = gd2.ctl("volume", "start", "rv")
    assert result.returncode == 3, result
    assert f"brick {gd2.address}:{bricks[1]} failed: brick directory {bricks[1]} is missing" in result.stdout
    status = _status(gd2, "rv")
    online = {b["path"]: b["online"] for b in status["bricks"]}
    assert online == {str(bricks[0]): True, str(bricks[1]): False}
    assert status["state"] == "Started"


def test_no_brick_can_start_changes_nothing(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, bricks = replica
    for brick in bricks:
        os.removexattr(brick, "trusted.glusterfs.volume-id")
    result = gd2.ctl("volume", "start", "rv")
    assert result.returncode == 1 and "no brick could start" in result.stderr
    assert "has no trusted.glusterfs.volume-id" in result.stderr
    assert _status(gd2, "rv")["state"] == "Created"


def test_bricks_outlive_a_glusterd2_restart_and_are_adopted(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, _ = replica
    gd2.ctl("volume", "start", "rv", check=True)
    before = {b["path"]: b["pid"] for b in _wait_online(gd2, "rv")["bricks"]}
    gd2.kill()  # no chance to do anything on the way out
    for pid in before.values():
        os.kill(pid, 0)  # the bricks are still there
    gd2.start()
    after = _wait_online(gd2, "rv")  # they sign in again with the new glusterd2
    assert {b["path"]: b["pid"] for b in after["bricks"]} == before
    gd2.ctl("volume", "start", "rv", "force", check=True)
    assert {b["path"]: b["pid"] for b in _status(gd2, "rv")["bricks"]} == before, "force started duplicates"
    procs = subprocess.run(["pgrep", "-f", "--", f"--volfile-id rv.{gd2.address}"], capture_output=True, text=True)
    assert len(procs.stdout.split()) == 2


def test_a_killed_brick_is_restarted_by_the_supervisor(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, bricks = replica
    gd2.ctl("volume", "start", "rv", check=True)
    victim = next(b for b in _wait_online(gd2, "rv")["bricks"] if b["path"] == str(bricks[0]))
    os.kill(victim["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        brick = next(b for b in _status(gd2, "rv")["bricks"] if b["path"] == str(bricks[0]))
        if brick["online"] and brick["pid"] != victim["pid"]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the killed brick was not restarted: {brick}")
    assert brick["port"] is not None, "restarted but not signed in"
    assert "daemon restarted" in gd2.stderr_path.read_text()


def _ask(address: str, call: bytes) -> bytes:
    with socket.create_connection((address, 24007), timeout=10) as sock:
        sock.sendall(call)
        data = b""
        while len(data) < 4 or len(data) < 4 + (int.from_bytes(data[:4], "big") & 0x7FFFFFFF):
            chunk = sock.recv(65536)
            assert chunk, "connection closed"
            data += chunk
    return data[4:]


def _getspec(address: str, key: str) -> GetspecReply:
    call = encode_call(RpcCall(xid=7, prog=rpcconst.HANDSHAKE_PROGRAM, vers=rpcconst.HANDSHAKE_VERSION,
                               proc=rpcconst.HANDSHAKE_GETSPEC, args=GetspecRequest(flags=1, key=key)))
    reply = decode_reply(_ask(address, call), GetspecReply)
    assert isinstance(reply.result, GetspecReply)
    return reply.result


def test_getspec_through_the_daemon(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, _ = replica
    found = _getspec(gd2.address, "/rv")
    assert found.op_ret == len(found.spec.encode()) > 0 and "volume rv-replicate-0" in found.spec
    missing = _getspec(gd2.address, "/nosuchvolume")
    assert (missing.op_ret, missing.op_errno, missing.spec) == (-1, 2, "")
    # Keys that made the old brick-key pattern backtrack (a volume name, then a run of dots) are
    # answered ENOENT, and the daemon goes on serving.
    for key in ("a" + "." * 65536 + "/x", "a" + "." * 4400 + "/x", "." * 65536):
        hostile = _getspec(gd2.address, key)
        assert (hostile.op_ret, hostile.op_errno, hostile.spec) == (-1, 2, "")
    assert _getspec(gd2.address, "/rv").op_ret > 0
    gd2.ctl("volume", "info", "rv", check=True)


def test_signin_for_an_unknown_brick_is_refused(replica: tuple[DaemonProcess, list[Path]]) -> None:
    gd2, bricks = replica

    def signin(path: str) -> SigninReply:
        call = encode_call(RpcCall(xid=9, prog=rpcconst.PORTMAP_PROGRAM, vers=rpcconst.PORTMAP_VERSION,
                                   proc=rpcconst.PORTMAP_SIGNIN, args=SigninRequest(path, 50000, os.getpid())))
        result = decode_reply(_ask(gd2.address, call), SigninReply).result
        assert isinstance(result, SigninReply)
        return result

    assert signin("/not/a/brick") == SigninReply(-1, 2)
    assert signin(str(bricks[0])) == SigninReply(0, 0)  # a brick of this node's volume


def test_option_change_reaches_a_mounted_client(replica: tuple[DaemonProcess, list[Path]], tmp_path: Path) -> None:
    gd2, _ = replica
    gd2.ctl("volume", "start", "rv", check=True)
    _wait_online(gd2, "rv")
    mnt, log = tmp_path / "mnt", tmp_path / "mnt.log"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={log}", f"{gd2.address}:/rv", str(mnt)],
                   check=True, timeout=60)
    try:
        (mnt / "before").write_text("x")
        bad = gd2.ctl("volume", "set", "rv", "performance.write-behind", "sometimes")
        assert bad.returncode == 1 and "must be one of" in bad.stderr
        unknown = gd2.ctl("volume", "set", "rv", "performance.write-behind-typo", "off")
        assert unknown.returncode == 1 and "does not exist" in unknown.stderr
        gd2.ctl("volume", "set", "rv", "performance.write-behind", "off", check=True)
        got = gd2.ctl("volume", "get", "rv", "performance.write-behind", check=True).stdout
        assert "performance.write-behind" in got and "off" in got
        # FETCHSPEC → the client fetches again, sees write-behind gone and builds a new graph,
        # which FUSE switches to at the next operation on the mount.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and log.read_text().count("switched to graph") < 2:
            os.listdir(mnt)
            time.sleep(0.2)
        assert log.read_text().count("switched to graph") >= 2, "the client never took the new volfile"
        (mnt / "after").write_text("y")
        assert (mnt / "before").read_text() == "x"
    finally:
        subprocess.run(["umount", str(mnt)], check=False, timeout=60)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_idle_connections_do_not_exhaust_the_daemon(daemon_factory: Callable[..., DaemonProcess],
                                                    tmp_path: Path) -> None:
    # Started with the usual soft limit of 1,024 open files: glusterd2 takes the hard one, so 1,100
    # idle connections fit; they are closed after sunrpc-call-timeout, and the API answers meanwhile.
    config = tmp_path / "gd2.toml"
    config.write_text("sunrpc-call-timeout = 2.0\n")
    gd2 = daemon_factory("--config", str(config), launcher=["prlimit", "--nofile=1024:8192", "--"])
    assert gd2.process is not None
    limits = Path(f"/proc/{gd2.process.pid}/limits").read_text()
    assert any(line.startswith("Max open files") and line.split()[3] == "8192" for line in limits.splitlines()), limits
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))  # this test's own sockets
    idle = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection((gd2.address, 24007), timeout=10))
        gd2.ctl("volume", "list", check=True)  # the API over its Unix socket
        assert _getspec(gd2.address, "/nosuchvolume").op_errno == 2
        # Every idle connection is closed by the daemon (recv gives EOF), none served.
        for sock in idle:
            sock.settimeout(30)
            assert sock.recv(1) == b""
    finally:
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    gd2.ctl("volume", "list", check=True)
