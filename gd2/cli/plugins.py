"""gd2ctl's plugin commands: `plugin list` and the bitrot plugin's `bitrot VOL ...` (docs/plugins.md).

A plugin's commands are REST calls under /v1/plugins/<name>/...; gd2ctl only
knows the words of the plugins shipped with glusterd2.  Light imports only.
"""

from __future__ import annotations

from gd2.cli.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PLUGINS = "/v1/plugins"

COMMANDS = (
    ("plugin list", "list the plugins: name, version, state, restarts"),
    ("bitrot NAME enable|disable|scrub-status", "bitrot signing and scrubbing of a volume (the bitrot plugin)"),
)


def _quote(text: str) -> str:
    keep = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    return "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def plugin_table(data: Any) -> str:
    plugins = data.get("plugins") or []
    if not plugins:
        return f"no plugins (plugin-dir {data.get('plugin_dir', '?')})\n"
    rows = [("NAME", "VERSION", "STATE", "RESTARTS", "PID", "DETAIL")]
    for p in plugins:
        rows.append((str(p.get("name")), str(p.get("version")), str(p.get("state")), str(p.get("restarts", 0)),
                     str(p.get("pid") or "-"), " ".join(str(p.get("error") or "").split())[:100]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] + "\n"
                   for r in rows).replace("  \n", "\n")


def scrub_status(data: Any) -> str:
    lines = [f"Volume name : {data.get('volume')}", f"State of bitrot : {data.get('bitrot')}",
             f"State of scrub: {data.get('scrub')}", f"Scrub impact: {data.get('scrub_throttle')}",
             f"Scrub frequency: {data.get('scrub_freq')}"]
    for daemon in data.get("daemons") or []:
        running = f"running, pid {daemon.get('pid')}" if daemon.get("running") else "not running"
        lines.append(f"{daemon.get('name')}: {running}")
    for line in data.get("scrub_log") or []:
        lines.append(f"  {line}")
    return "\n".join(lines) + "\n"


def plan(noun: str, words: list[str]) -> tuple[str, str, Any]:
    """(method, path, render) for a plugin command; raise UsageError."""
    if noun == "plugin":
        if words == ["list"]:
            return "GET", PLUGINS, plugin_table
        raise UsageError("usage: plugin list")
    if len(words) != 2 or words[1] not in ("enable", "disable", "scrub-status"):
        raise UsageError("usage: bitrot NAME enable|disable|scrub-status")
    name, verb = words
    base = f"{PLUGINS}/bitrot/volumes/{_quote(name)}"
    if verb == "scrub-status":
        return "GET", f"{base}/scrub-status", scrub_status
    return "POST", f"{base}/{verb}", lambda _data: f"volume bitrot: success: bitrot {verb}d on {name}\n"
