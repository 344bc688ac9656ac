"""A glusterd2 plugin for tests; what it is and does comes from ``<its path>.json``.

``{"name", "version", "depends": [[name, min_version]], "handshake_protocol": N,
"crash_file": PATH, "sick_file": PATH, "start_log": PATH, "route": true}``: with
``crash_file`` it exits with status 3 as soon as that file exists (at start, too); with
``sick_file`` its health check answers "not serving" while that file exists; it
appends "<name> <monotonic ns>" to ``start_log`` when glusterd2 first asks
Describe; ``handshake_protocol`` makes it claim another protocol version in
its handshake line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gd2.plugins import sdk
from gd2.plugins.handshake import COOKIE_KEY, PROBE_KEY, Dependency

settings: dict[str, Any] = json.loads(Path(sys.argv[0] + ".json").read_text())
plugin = sdk.Plugin(settings["name"], settings.get("version", "1.0.0"), "a plugin for tests",
                    depends=[Dependency(n, v) for n, v in settings.get("depends", [])])

if "handshake_protocol" in settings:
    wrong = int(settings["handshake_protocol"])
    sdk.format_handshake = lambda protocol, path: f"1|{wrong}|unix|{path}|grpc"  # type: ignore[attr-defined,assignment]


@plugin.on_setup
def setup(host: sdk.HostInfo, config: dict[str, Any]) -> None:
    if "start_log" in settings:
        with open(settings["start_log"], "a") as log:
            log.write(f"{plugin.name} {time.monotonic_ns()}\n")


@plugin.on_health
def health() -> tuple[bool, str]:
    if "sick_file" in settings and os.path.exists(settings["sick_file"]):
        return False, "sick on cue"
    return True, ""


@plugin.route("GET", "/hello/{who}", "say hello")
def hello(request: sdk.Request) -> Any:
    return {"hello": request.params["who"], "plugin": plugin.name, "config": plugin.config}


def crash_on_cue(path: str) -> None:
    while True:
        if os.path.exists(path):
            print(f"{plugin.name}: crashing on cue", file=sys.stderr, flush=True)
            os._exit(3)
        time.sleep(0.05)


if __name__ == "__main__":
    if "crash_file" in settings and os.environ.get(COOKIE_KEY) and not os.environ.get(PROBE_KEY):
        threading.Thread(target=crash_on_cue, args=(settings["crash_file"],), daemon=True).start()
    sys.exit(sdk.serve(plugin))
