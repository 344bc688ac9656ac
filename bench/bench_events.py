"""Event delivery latency: from a volume operation to a webhook receiver and to an `events watch` client.

Run as root from the repository root, with glusterd2 installed in the venv whose python runs this:

    .venv/bin/python bench/bench_events.py [--rounds 30] [--address 127.0.0.91]

Method (loopback only; the daemon in its own directory under one `mkdtemp` in /var/tmp):

1. One glusterd2 on ``--address`` with its embedded etcd; one volume ``ev`` (one brick, not started).
2. A webhook receiver (stdlib http.server in a thread of this process, `gd2.testing.webhook_receiver`)
   on ``--address`` port 0, added with a secret; a `gd2ctl --json events watch` subprocess whose
   stdout a thread of this process reads line by line, stamping each line as it arrives.
3. ``--rounds`` times: `POST /v1/volumes/ev/options` (`performance.write-behind` on/off in turn)
   straight over the Unix socket (no gd2ctl start-up in the figure). The operation's own time is
   from just before the request to the end of its answer; each delivery latency is from the end of
   that answer (the event is queued then) to the moment the receiver, or the watch line reader, had
   the event with that volume.set. All stamps are ``time.monotonic()`` in this one process.
   Medians, and the 90th percentile.

There is no glusterd1 counterpart: glusterd1 has no event stream or webhooks of its own (its
`gluster-eventsapi` is a separate Python daemon, not in Debian's glusterfs-server), so the table
has no ratio column.  Hygiene: the daemon is stopped by PID (SIGTERM, then SIGKILL), the watch
subprocess by PID, the temp dir removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gd2.testing import DaemonProcess
from gd2.testing.daemon import http_over_unix, venv_bin
from gd2.testing.webhook_receiver import WebhookReceiver

SECRET = "bench"


def _pump(process: subprocess.Popen[str], lines: queue.Queue[tuple[float, str]]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put((time.monotonic(), line))


def _wait_watch_line(lines: queue.Queue[tuple[float, str]], value: str, deadline: float) -> float:
    while True:
        at, line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("kind") == "volume.set" and (event.get("options") or {}).get(
                "performance.write-behind") == value:
            return at


def _wait_webhook(receiver: WebhookReceiver, value: str, seen: int, timeout: float) -> float:
    events = receiver.wait_for(lambda evs: any(
        e.get("kind") == "volume.set" and (e.get("options") or {}).get("performance.write-behind") == value
        for e in evs[seen:]), timeout)
    del events
    for delivery in receiver.deliveries[seen:]:
        event = delivery.event
        if event.get("kind") == "volume.set" and event.get("options", {}).get("performance.write-behind") == value:
            return delivery.at
    raise RuntimeError("delivery vanished")


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--address", default="127.0.0.91")
    p.add_argument("--tmp-parent", default="/var/tmp")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gd2-bench-events-", dir=args.tmp_parent))
    daemon = DaemonProcess(workdir / "gd2", args.address, [])
    receiver = WebhookReceiver(args.address, secret=SECRET)
    watcher: subprocess.Popen[str] | None = None
    samples: dict[str, list[float]] = {"volume set (the operation)": [], "→ webhook receiver": [],
                                       "→ events watch client": []}
    try:
        print(f"starting glusterd2 on {args.address} in {workdir}", file=sys.stderr)
        daemon.start(timeout=60)
        daemon.ctl("volume", "create", "ev", f"{args.address}:{workdir}/b1", "force", check=True)
        receiver.start()
        daemon.ctl("events", "webhook-add", receiver.url, "--secret", SECRET, check=True)
        lines: queue.Queue[tuple[float, str]] = queue.Queue()
        watcher = subprocess.Popen([venv_bin("gd2ctl"), "--json", "events", "watch"], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True,
                                   env={**os.environ, "GD2_SOCKET": str(daemon.socket_path)})
        threading.Thread(target=_pump, args=(watcher, lines), daemon=True).start()
        time.sleep(1.0)  # the watch is subscribed, the receiver has had the webhook's first look
        for n in range(args.rounds + 1):
            value = "on" if n % 2 else "off"
            seen = len(receiver.deliveries)
            started = time.monotonic()
            status, _ = http_over_unix(daemon.socket_path, "POST", "/v1/volumes/ev/options",
                                       {"options": {"performance.write-behind": value}}, timeout=30)
            done = time.monotonic()
            if status != 200:
                raise RuntimeError(f"volume set answered {status}")
            hook_at = _wait_webhook(receiver, value, seen, 30)
            watch_at = _wait_watch_line(lines, value, time.monotonic() + 30)
            if n == 0:
                continue  # warm-up (first POST on a new connection, first import of paths)
            samples["volume set (the operation)"].append(done - started)
            samples["→ webhook receiver"].append(hook_at - done)
            samples["→ events watch client"].append(watch_at - done)
        if not all(d.signature_valid for d in receiver.deliveries):
            raise RuntimeError("a delivery had a bad signature")
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.wait()
            if watcher.stdout is not None:
                watcher.stdout.close()
        receiver.stop()
        daemon.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n## Event delivery latency ({args.rounds} rounds, medians; glusterd2 only)\n")
    print("| measurement | median ms | p90 ms |")
    print("|---|---|---|")
    for name, values in samples.items():
        print(f"| {name} | {statistics.median(values) * 1000:.1f} | {_p90(values) * 1000:.1f} |")
    print("\nNo glusterd1 baseline: glusterd1 has no built-in event stream or webhooks "
          "(gluster-eventsapi is a separate daemon, not shipped by Debian's glusterfs-server).")
    print(f"loadavg at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
