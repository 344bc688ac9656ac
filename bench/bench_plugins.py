"""The overhead a loaded plugin (bitrot) adds to `volume start` (docs/plugins.md).

Run as root from the repository root, with glusterd2 installed in the venv whose python runs this:

    /tmp/venv/bin/python bench/bench_plugins.py [--cycles 7] [--net 8]

Three glusterd2 daemons side by side, each on its own address on 127.0.<net>.0/24 and in its own
directory under one `mkdtemp` in /var/tmp:

* `plain`   no plugins (`--plugin-dir` an empty directory);
* `loaded`  the bitrot plugin loaded (a copy of plugins/bitrot), the volume without bitrot;
* `bitrot`  the bitrot plugin loaded and `features.bitrot on` for the volume (brick graphs with the
            stub switched on, and bitd + scrub started for the volume by the plugin host).

Each gets a 2-brick distribute volume `pv`. After one untimed warm-up cycle, `--cycles` timed cycles
(the daemons taking turns): `gd2ctl volume start pv`, timed from just before it until the first
`gd2ctl --json volume status pv` that shows every brick online (asked again 20 ms after each answer
that is not), then `volume stop pv` (untimed). For `bitrot`, the time until bitd and scrub run is
reported too (their pidfiles alive, polled every 20 ms from the same start). Medians; ratio against
`plain`. Also the time from exec to the daemon's first `/ping` answer, once per daemon (plugins are
probed and started before the API comes up).

Everything started is stopped by PID (daemons by SIGTERM; bricks and plugin daemons die with
`volume stop` / `bitrot disable`); leftovers whose command line names the temp dir are killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gd2.testing import DaemonProcess

REPO = Path(__file__).resolve().parents[1]


def install_bitrot(plugin_dir: Path) -> None:
    plugin_dir.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "plugins" / "bitrot").read_text().splitlines(keepends=True)
    dest = plugin_dir / "bitrot"
    dest.write_text(f"#!{sys.executable}\n" + "".join(lines[1:]))
    dest.chmod(0o755)


def online(gd2: DaemonProcess) -> bool:
    status = json.loads(gd2.ctl("--json", "volume", "status", "pv", check=True).stdout)
    return all(b["online"] for b in status["bricks"])


def alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def cycle(name: str, gd2: DaemonProcess, timeout: float) -> tuple[float, float | None]:
    """One start → online; for `bitrot`, also start → bitd and scrub running."""
    daemons = [gd2.rundir / "plugins" / "bitrot" / f"pv-{role}.pid" for role in ("bitd", "scrub")]
    begin = time.monotonic()
    gd2.ctl("volume", "start", "pv", check=True)
    up = None
    deadline = begin + timeout
    while not online(gd2):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: bricks not online within {timeout}s")
        time.sleep(0.02)
    up = time.monotonic() - begin
    helpers = None
    if name == "bitrot":
        while not all(alive(p) for p in daemons):
            if time.monotonic() > deadline:
                raise RuntimeError("bitrot: bitd/scrub not running")
            time.sleep(0.02)
        helpers = time.monotonic() - begin
    gd2.ctl("volume", "stop", "pv", check=True)
    if name == "bitrot":  # a stopped volume's plugin daemons are released by the next reconciliation
        end = time.monotonic() + timeout
        while any(alive(p) for p in daemons) and time.monotonic() < end:
            time.sleep(0.05)
    return up, helpers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=7)
    parser.add_argument("--net", type=int, default=int(os.environ.get("GD2_TEST_NET", "8")))
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gd2-bench-plugins-", dir="/var/tmp"))
    daemons: dict[str, DaemonProcess] = {}
    ready: dict[str, float] = {}
    try:
        for index, name in enumerate(("plain", "loaded", "bitrot")):
            pdir = root / name / "plugins"
            pdir.mkdir(parents=True)
            if name != "plain":
                install_bitrot(pdir)
            gd2 = DaemonProcess(root / name, f"127.0.{args.net}.{91 + index}", ["--plugin-dir", str(pdir)])
            begin = time.monotonic()
            gd2.start()
            ready[name] = time.monotonic() - begin
            daemons[name] = gd2
            bricks = [root / name / "bricks" / f"b{i}" for i in range(2)]
            gd2.ctl("volume", "create", "pv", *[f"{gd2.address}:{b}" for b in bricks], "force", check=True)
            if name == "bitrot":
                gd2.ctl("bitrot", "pv", "enable", check=True)
        for gd2_name, gd2 in daemons.items():  # warm-up
            cycle(gd2_name, gd2, args.timeout)
        starts: dict[str, list[float]] = {name: [] for name in daemons}
        helpers: list[float] = []
        for _ in range(args.cycles):
            for name, gd2 in daemons.items():
                up, extra = cycle(name, gd2, args.timeout)
                starts[name].append(up)
                if extra is not None:
                    helpers.append(extra)
        base = statistics.median(starts["plain"])
        print(f"volume start -> bricks online, median of {args.cycles} (2-brick distribute, process backend)")
        print(f"{'glusterd2':<34}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'ratio':>8}{'ready ms':>10}")
        labels = {"plain": "no plugins", "loaded": "bitrot plugin loaded, volume off",
                  "bitrot": "bitrot plugin, volume bitrot on"}
        for name, values in starts.items():
            med = statistics.median(values)
            print(f"{labels[name]:<34}{med * 1000:>10.0f}{min(values) * 1000:>9.0f}{max(values) * 1000:>9.0f}"
                  f"{med / base:>7.2f}x{ready[name] * 1000:>10.0f}")
        if helpers:
            print(f"bitrot on: start -> bitd and scrub running, median {statistics.median(helpers) * 1000:.0f} ms")
        return 0
    finally:
        for gd2 in daemons.values():
            gd2.stop()
        for pid_dir in Path("/proc").iterdir():
            if pid_dir.name.isdigit():
                try:
                    if str(root).encode() in (pid_dir / "cmdline").read_bytes():
                        os.kill(int(pid_dir.name), signal.SIGKILL)
                except OSError:
                    pass
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
