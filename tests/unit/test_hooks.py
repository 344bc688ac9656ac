"""Hook scripts: glusterd1's selection rule and arguments, the runner's deadline and process
group, pre scripts refusing (or not) and post scripts in the background, in order."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trio

from gd2.commands.hooks import VolumeHooks, script_args
from gd2.commands.volume_options import OptionService, OptionValidator
from gd2.commands.volumes import VolumeService
from gd2.errors import Conflict
from gd2.hooks import HookRunner, ensure_layout, hook_environment, script_dir, select_scripts
from gd2.hooks.layout import is_enabled
from gd2.model.node import LocalNode
from gd2.testing import FakeStore


def _script(path: Path, body: str, *, executable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # A zombie is dead too: it only waits for its parent (here, possibly init) to reap it.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _dies(pid: int) -> bool:
    """SIGKILL takes effect a moment after it is sent: wait (bounded) for that."""
    with trio.move_on_after(10):
        while _alive(pid):  # noqa: ASYNC110 - a process of someone else's, not an event
            await trio.sleep(0.02)
    return not _alive(pid)


# ---- which scripts -------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "enabled"), [
    ("S10selinux-label-brick.sh", True), ("S30samba-start.sh", True), ("S", True),
    ("K30samba-start.sh", False), ("s30lower.sh", False), ("disabled-quota.sh", False),
    ("S30samba-start.sh.rpmsave", False), ("S30samba-start.sh.rpmnew", False),
    ("S30samba-start.sh~", True),  # glusterd1 has no rule for editor backups
])
def test_glusterd1_name_rule(name: str, enabled: bool) -> None:
    assert is_enabled(name) is enabled


def test_selection_in_byte_order_executable_files_only(tmp_path: Path) -> None:
    for name in ("S20b", "S10a", "S3c", "SZ", "Sa"):
        _script(tmp_path / name, "true")
    _script(tmp_path / "S05not-executable", "true", executable=False)
    _script(tmp_path / "K01killed", "true")
    _script(tmp_path / "S01.rpmnew", "true")
    (tmp_path / "S02dir").mkdir()
    os.symlink(tmp_path / "S10a", tmp_path / "S99link")
    assert [p.name for p in select_scripts(tmp_path)] == ["S10a", "S20b", "S3c", "S99link", "SZ", "Sa"]
    assert select_scripts(tmp_path / "missing") == []


def test_layout_has_glusterd1_directories(tmp_path: Path) -> None:
    ensure_layout(tmp_path / "hooks")
    ensure_layout(tmp_path / "hooks")  # again: nothing to do
    for op in ("create", "delete", "start", "stop", "set", "reset", "add-brick", "remove-brick",
               "gsync-create"):
        for phase in ("pre", "post"):
            assert (tmp_path / "hooks" / "1" / op / phase).is_dir()
    assert script_dir(tmp_path, "start", "post") == tmp_path / "1" / "start" / "post"


# ---- arguments (glusterd-hooks.c) ----------------------------------------------------------------

W = Path("/var/lib/glusterd2")


def test_arguments_like_glusterd1() -> None:
    assert script_args("create", "pre", "gv0", workdir=W, started=0) == ["--volname=gv0"]
    assert script_args("create", "post", "gv0", workdir=W, started=3) == ["--volname=gv0"]
    assert script_args("delete", "pre", "gv0", workdir=W, started=0) == ["--volname=gv0"]
    start = ["--version=1", "--volume-op=start", "--gd-workdir=/var/lib/glusterd2"]
    assert script_args("start", "pre", "gv0", workdir=W, started=0) == ["--volname=gv0", "--first=yes", *start]
    assert script_args("start", "pre", "gv0", workdir=W, started=1) == ["--volname=gv0", "--first=no", *start]
    assert script_args("start", "post", "gv0", workdir=W, started=1) == ["--volname=gv0", "--first=yes", *start]
    assert script_args("start", "post", "gv0", workdir=W, started=2) == ["--volname=gv0", "--first=no", *start]
    assert script_args("stop", "pre", "gv0", workdir=W, started=1) == ["--volname=gv0", "--last=yes"]
    assert script_args("stop", "pre", "gv0", workdir=W, started=2) == ["--volname=gv0", "--last=no"]
    assert script_args("stop", "post", "gv0", workdir=W, started=0) == ["--volname=gv0", "--last=yes"]
    assert script_args("stop", "post", "gv0", workdir=W, started=1) == ["--volname=gv0", "--last=no"]
    assert script_args("set", "post", "gv0", workdir=W, started=0,
                       options=[("performance.readdir-ahead", "off"), ("user.smb", "enable")]) == [
        "--volname=gv0", "-o", "performance.readdir-ahead=off", "user.smb=enable",
        "--gd-workdir=/var/lib/glusterd2"]
    assert script_args("reset", "pre", "gv0", workdir=W, started=0) == [
        "--volname=gv0", "--version=1", "--volume-op=reset", "--gd-workdir=/var/lib/glusterd2"]


def test_environment_reaches_this_daemon_and_not_systemd() -> None:
    env = hook_environment({"PATH": "/usr/bin", "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1"},
                           Path("/run/glusterd2/gd2.sock"))
    assert env == {"PATH": "/usr/bin", "GD2_SOCKET": "/run/glusterd2/gd2.sock"}


# ---- the runner ----------------------------------------------------------------------------------

async def test_runner_passes_arguments_environment_and_keeps_stderr_tail(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = _script(tmp_path / "S10", f'echo "$@" "$GD2_SOCKET" "$(pwd)" > {out}\n'
                                      'for i in 1 2 3 4 5 6 7; do echo "err $i" >&2; done\necho fine\nexit 3')
    runner = HookRunner(timeout=30, env=hook_environment(os.environ, Path("/run/x.sock")))
    outcome = await runner.run(script, ["--volname=gv0", "--first=yes"])
    assert out.read_text() == "--volname=gv0 --first=yes /run/x.sock /\n"
    assert outcome.returncode == 3 and not outcome.ok and not outcome.timed_out
    assert outcome.stderr_tail == ("err 3", "err 4", "err 5", "err 6", "err 7")
    assert outcome.describe() == "exited with status 3: err 3 | err 4 | err 5 | err 6 | err 7"


async def test_runner_kills_the_whole_group_at_the_deadline(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = _script(tmp_path / "S10", f"sleep 1000 &\necho $$ $! > {pids}\nwait")
    outcome = await HookRunner(timeout=2, env=os.environ, kill_grace=0.5).run(script, [])
    assert outcome.timed_out and not outcome.ok and outcome.describe().startswith("killed at its deadline")
    for pid in map(int, pids.read_text().split()):
        assert await _dies(pid), f"process {pid} of the hook outlived its deadline"


async def test_runner_kills_the_group_when_its_caller_is_cancelled(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = _script(tmp_path / "S10", f"trap '' TERM\nsleep 1000 &\necho $$ $! > {pids}\nwait")
    runner = HookRunner(timeout=600, env=os.environ, kill_grace=0.2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(runner.run, script, [])
        with trio.fail_after(20):
            while not pids.exists() or not pids.read_text().endswith("\n"):  # noqa: ASYNC110 - a file
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    for pid in map(int, pids.read_text().split()):
        assert await _dies(pid), f"process {pid} of the hook outlived the cancelled request"


async def test_runner_does_not_wait_for_a_child_left_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = _script(tmp_path / "S10", f"sleep 1000 &\necho $! > {pid_file}\necho started")
    outcome = await HookRunner(timeout=600, env=os.environ).run(script, [])
    assert outcome.ok
    child = int(pid_file.read_text())
    assert _alive(child)  # a script may start a service on purpose
    os.kill(child, 9)


async def test_runner_reports_a_script_that_cannot_start(tmp_path: Path) -> None:
    script = tmp_path / "S10"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    outcome = await HookRunner(timeout=5, env=os.environ).run(script, [])
    assert not outcome.ok and outcome.returncode is None and "could not run" in outcome.describe()


# ---- around operations ---------------------------------------------------------------------------

def _hooks(tmp_path: Path, store: FakeStore, *, refuse: bool, timeout: float = 30) -> VolumeHooks:
    return VolumeHooks(HookRunner(timeout=timeout, env=os.environ), store, root=tmp_path / "hooks",
                       workdir=tmp_path, refuse_on_pre_failure=refuse)


async def test_failing_pre_script_refuses_when_configured(tmp_path: Path) -> None:
    hooks = _hooks(tmp_path, FakeStore(), refuse=True)
    pre = script_dir(tmp_path / "hooks", "create", "pre")
    ran = tmp_path / "ran"
    _script(pre / "S10ok", f"echo S10 >> {ran}")
    _script(pre / "S20no", "echo 'quota server unreachable' >&2\nexit 1")
    _script(pre / "S30later", f"echo S30 >> {ran}")
    with pytest.raises(Conflict) as refused:
        await hooks.pre("create", "gv0")
    assert "S20no" in refused.value.message and "exited with status 1" in refused.value.message
    assert "quota server unreachable" in refused.value.message
    assert ran.read_text() == "S10\n"  # the scripts after the failing one do not run


async def test_failing_pre_script_is_ignored_like_glusterd1_by_default(tmp_path: Path) -> None:
    hooks = _hooks(tmp_path, FakeStore(), refuse=False)
    pre = script_dir(tmp_path / "hooks", "stop", "pre")
    ran = tmp_path / "ran"
    _script(pre / "S10no", "exit 1")
    _script(pre / "S20ok", f'echo "$@" >> {ran}')
    await hooks.pre("stop", "gv0")
    assert ran.read_text() == "--volname=gv0 --last=no\n"


async def test_post_scripts_run_in_background_in_operation_order(tmp_path: Path) -> None:
    store = FakeStore()
    await store.put("volumes/gv0", "volume", {"name": "gv0", "state": "Started"})
    hooks = _hooks(tmp_path, store, refuse=False)
    root = tmp_path / "hooks"
    log = tmp_path / "log"
    for op in ("create", "start", "set"):
        _script(script_dir(root, op, "post") / "S10log", f'echo {op} "$@" >> {log}')
    _script(script_dir(root, "create", "post") / "S05slow", "sleep 0.3")
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks.run)
        hooks.post("create", "gv0")
        hooks.post("start", "gv0")
        hooks.post("set", "gv0", [("k", "v")])
        hooks.post("create", "gv1")
        with trio.fail_after(20):
            while not log.exists() or len(log.read_text().splitlines()) < 4:  # noqa: ASYNC110 - a file, not an event
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    lines = log.read_text().splitlines()
    gv0 = [line for line in lines if "--volname=gv0" in line]
    assert gv0 == ["create --volname=gv0",
                   f"start --volname=gv0 --first=yes --version=1 --volume-op=start --gd-workdir={tmp_path}",
                   f"set --volname=gv0 -o k=v --gd-workdir={tmp_path}"]
    assert "create --volname=gv1" in lines
    assert (root / "1" / "reset" / "pre").is_dir()  # the layout was made when the task started


async def test_refused_set_changes_nothing(tmp_path: Path) -> None:
    from gd2.api.models import Peer, VolumeCreateRequest
    from gd2.model.layout import plan_volume

    store = FakeStore()
    peers = [Peer(id="p1", name="server1", addresses=["10.0.0.1"], cluster_id="c1")]
    volume = plan_volume(VolumeCreateRequest(name="v", bricks=["10.0.0.1:/b/0"], force=True), peers, [],
                         lambda: "00000000-0000-0000-0000-000000000001", "now")
    await store.put("volumes/v", "volume", volume.model_dump(mode="json"))
    hooks = _hooks(tmp_path, store, refuse=True)
    _script(script_dir(tmp_path / "hooks", "set", "pre") / "S10veto", 'echo "no $*" >&2\nexit 2')
    volumes = VolumeService(store, LocalNode("p1", "c1", "server1", ("10.0.0.1",)), None, None)  # type: ignore[arg-type]

    class Notifier:
        async def notify_fetchspec(self) -> None:
            raise AssertionError("nothing changed, nothing to fetch")

    options = OptionService(volumes, OptionValidator(None), Notifier(), hooks)
    with pytest.raises(Conflict, match=r"S10veto.*no --volname=v -o performance\.readdir-ahead=off"):
        await options.set("v", {"performance.readdir-ahead": "off"})
    assert "performance.readdir-ahead" not in (await volumes.get("v")).options
