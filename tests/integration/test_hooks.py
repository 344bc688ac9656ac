"""Hook scripts around real volume operations of a real daemon (localstatedir/hooks/1/<op>/{pre,post})."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from gd2.testing import DaemonProcess
from gd2.testing.daemon import venv_bin

# The daemon is started with a wrong GD2_SOCKET: a hook script must get this daemon's own.
WRONG_SOCKET = {"GD2_SOCKET": "/nonexistent/gd2.sock"}
VOLNAME = 'for a in "$@"; do case $a in --volname=*) vol=${a#--volname=};; esac; done\n'


def _hook(gd2: DaemonProcess, op: str, phase: str, name: str, body: str, *, executable: bool = True) -> Path:
    path = gd2.statedir / "hooks" / "1" / op / phase / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755 if executable else 0o644)
    return path


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, only not reaped
    except FileNotFoundError:
        return False


def _volumes(gd2: DaemonProcess) -> list[str]:
    return [v["name"] for v in json.loads(gd2.ctl("--json", "volume", "list", check=True).stdout)["volumes"]]


def test_post_hook_calling_gd2ctl_does_not_deadlock(daemon_factory: Callable[..., DaemonProcess],
                                                     brick_fs: Path) -> None:
    gd2 = daemon_factory(env=WRONG_SOCKET)
    out = gd2.workdir / "hook-out"
    gd2ctl = venv_bin("gd2ctl")
    # Runs gd2ctl against the volume just created; a volume named tmp* it deletes again, which takes
    # the volume's cluster lock: that works only if the create has released it.
    _hook(gd2, "create", "post", "S10info", VOLNAME + f"""
{gd2ctl} volume info "$vol" > {out}.$vol.tmp 2>&1; echo "info exit $?" >> {out}.$vol.tmp
case $vol in tmp*) {gd2ctl} volume delete "$vol" >> {out}.$vol.tmp 2>&1; echo "delete exit $?" >> {out}.$vol.tmp;; esac
mv {out}.$vol.tmp {out}.$vol
echo hook done for $vol""")
    gd2.ctl("volume", "create", "gv0", f"{gd2.address}:{brick_fs}/b0", check=True)
    _wait_for(lambda: Path(f"{out}.gv0").exists(), "the post hook of gv0")
    text = Path(f"{out}.gv0").read_text()
    assert "Volume Name: gv0" in text and f"{brick_fs}/b0" in text and "info exit 0" in text, text

    gd2.ctl("volume", "create", "tmp1", f"{gd2.address}:{brick_fs}/t1", check=True)
    _wait_for(lambda: Path(f"{out}.tmp1").exists(), "the post hook of tmp1")
    text = Path(f"{out}.tmp1").read_text()
    assert "Volume Name: tmp1" in text and "delete exit 0" in text, text
    assert _volumes(gd2) == ["gv0"]
    log = gd2.stderr_path.read_text()
    assert "hook script output" in log and "S10info" in log and "hook done for tmp1" in log


def test_failing_pre_hook_refuses_create_and_ignored_scripts(daemon_factory: Callable[..., DaemonProcess],
                                                             brick_fs: Path) -> None:
    gd2 = daemon_factory("--pre-hook-failure", "refuse")
    ran = gd2.workdir / "ran"
    # Never run: not starting with S, not executable, disabled by the package manager's suffix.
    _hook(gd2, "create", "pre", "K10fail", f"echo K10 >> {ran}; exit 1")
    _hook(gd2, "create", "pre", "S05noexec", f"echo S05 >> {ran}; exit 1", executable=False)
    _hook(gd2, "create", "pre", "S06old.rpmsave", f"echo S06 >> {ran}; exit 1")
    _hook(gd2, "create", "post", "README", f"echo README >> {ran}; exit 1")
    _hook(gd2, "create", "pre", "S07ok", f'echo S07 "$@" >> {ran}')
    gd2.ctl("volume", "create", "ok", f"{gd2.address}:{brick_fs}/ok", check=True)
    assert _lines(ran) == ["S07 --volname=ok"]

    _hook(gd2, "create", "pre", "S10veto",
          VOLNAME + "case $vol in ok*) ;; *) echo 'volume names must start with ok' >&2; exit 1;; esac")
    refused = gd2.ctl("volume", "create", "bad", f"{gd2.address}:{brick_fs}/bad")
    assert refused.returncode != 0
    assert "S10veto" in refused.stderr and "volume names must start with ok" in refused.stderr, refused.stderr
    assert _volumes(gd2) == ["ok"]
    assert not (brick_fs / "bad").exists(), "a refused create must not touch its bricks"
    gd2.ctl("volume", "create", "ok2", f"{gd2.address}:{brick_fs}/ok2", check=True)
    assert _volumes(gd2) == ["ok", "ok2"]


def test_hanging_post_hook_is_killed_at_its_deadline(daemon_factory: Callable[..., DaemonProcess],
                                                     brick_fs: Path) -> None:
    gd2 = daemon_factory("--hook-timeout", "2")
    pids = gd2.workdir / "pids"
    _hook(gd2, "create", "post", "S10hang", f"sleep 100000 &\necho $$ $! > {pids}.tmp; mv {pids}.tmp {pids}\nwait")
    gd2.ctl("volume", "create", "gv0", f"{gd2.address}:{brick_fs}/b0", check=True)
    _wait_for(pids.exists, "the hanging hook to start")
    hook_pids = [int(p) for p in pids.read_text().split()]
    # The daemon serves while the hook hangs, and after.
    assert _volumes(gd2) == ["gv0"]
    _wait_for(lambda: not any(_alive(p) for p in hook_pids), "the hook and its child to be killed")
    _wait_for(lambda: "killed at its deadline" in gd2.stderr_path.read_text(), "the kill in the log")
    gd2.ctl("volume", "create", "gv1", f"{gd2.address}:{brick_fs}/b1", check=True)
    assert _volumes(gd2) == ["gv0", "gv1"]


def test_arguments_match_glusterd1(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    gd2 = daemon_factory()
    pre, post = gd2.workdir / "pre", gd2.workdir / "post"
    for op in ("create", "start", "stop", "delete", "set", "reset"):
        _hook(gd2, op, "pre", "S10args", f'echo {op} "$@" >> {pre}')
        _hook(gd2, op, "post", "S10args", f'echo {op} "$@" >> {post}')
    workdir = f"--gd-workdir={gd2.statedir}"
    expected_post: list[str] = []

    def step(*words: str, pre_line: str, post_line: str) -> None:
        gd2.ctl(*words, check=True)
        assert _lines(pre)[-1] == pre_line
        expected_post.append(post_line)
        _wait_for(lambda: _lines(post) == expected_post, f"post hook of {words}: {_lines(post)}")

    step("volume", "create", "gv0", f"{gd2.address}:{brick_fs}/b0",
         pre_line="create --volname=gv0", post_line="create --volname=gv0")
    try:
        step("volume", "start", "gv0",
             pre_line=f"start --volname=gv0 --first=yes --version=1 --volume-op=start {workdir}",
             post_line=f"start --volname=gv0 --first=yes --version=1 --volume-op=start {workdir}")
        step("volume", "set", "gv0", "performance.readdir-ahead", "off",
             pre_line=f"set --volname=gv0 -o performance.readdir-ahead=off {workdir}",
             post_line=f"set --volname=gv0 -o performance.readdir-ahead=off {workdir}")
        step("volume", "reset", "gv0", "performance.readdir-ahead",
             pre_line=f"reset --volname=gv0 --version=1 --volume-op=reset {workdir}",
             post_line=f"reset --volname=gv0 --version=1 --volume-op=reset {workdir}")
        step("volume", "stop", "gv0",
             pre_line="stop --volname=gv0 --last=yes", post_line="stop --volname=gv0 --last=yes")
    except BaseException:
        gd2.ctl("volume", "stop", "gv0", "force")  # no brick left running
        raise
    step("volume", "delete", "gv0", pre_line="delete --volname=gv0", post_line="delete --volname=gv0")


def test_hooks_run_on_every_node_of_the_pool(daemon_factory: Callable[..., DaemonProcess], brick_fs: Path) -> None:
    """As glusterd1: each node runs its own scripts for an operation started anywhere; a node whose
    policy refuses the operation refuses it for the pool."""
    one = daemon_factory(name="one")
    two = daemon_factory("--pre-hook-failure", "refuse", name="two")
    one.ctl("peer", "add", two.address, check=True, timeout=120)
    for node in (one, two):
        _hook(node, "create", "post", "S10note", f'echo "$@" >> {node.workdir / "post-ran"}')
        _hook(node, "create", "pre", "S10note", f'echo "$@" >> {node.workdir / "pre-ran"}')
    one.ctl("volume", "create", "everywhere", f"{one.address}:{brick_fs}/everywhere", check=True)
    for node in (one, two):
        _wait_for(lambda node=node: _lines(node.workdir / "post-ran") == ["--volname=everywhere"],
                  f"the post script on {node.address}")
        assert _lines(node.workdir / "pre-ran") == ["--volname=everywhere"]
    _hook(two, "create", "pre", "S20veto", "echo 'not on this server' >&2; exit 1")
    refused = one.ctl("volume", "create", "vetoed", f"{one.address}:{brick_fs}/vetoed")
    assert refused.returncode != 0 and "S20veto" in refused.stderr and "not on this server" in refused.stderr
    assert _volumes(one) == ["everywhere"]
    assert not (brick_fs / "vetoed").exists()
