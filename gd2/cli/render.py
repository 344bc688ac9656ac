"""Text output of gd2ctl, laid out like the gluster CLI where it has an equivalent.

Each function takes the decoded JSON of one API response and returns the
text to print (ending in a newline). Missing fields are shown as blanks
rather than failing: a newer daemon may send more, an older one less.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def brick_count(volume: dict[str, Any]) -> str:
    """gluster's ``Number of Bricks`` value: ``2``, ``1 x 2 = 2``, ``2 x (2 + 1) = 6``."""
    total = len(volume.get("bricks") or [])
    sets = volume.get("distribute_count") or 1
    replica = volume.get("replica_count") or 1
    arbiter = volume.get("arbiter_count") or 0
    disperse = volume.get("disperse_count") or 0
    redundancy = volume.get("redundancy_count") or 0
    if disperse:
        return f"{sets} x ({disperse - redundancy} + {redundancy}) = {total}"
    if replica > 1 and arbiter:
        return f"{sets} x ({replica - arbiter} + {arbiter}) = {total}"
    if replica > 1:
        return f"{sets} x {replica} = {total}"
    return str(total)


def volume_info(volumes: list[dict[str, Any]]) -> str:
    """``volume info``: one block per volume, each after a blank line."""
    if not volumes:
        return "No volumes present\n"
    lines: list[str] = []
    for volume in volumes:
        lines += [
            "",
            f"Volume Name: {volume.get('name', '')}",
            f"Type: {volume.get('type', '')}",
            f"Volume ID: {volume.get('id', '')}",
            f"Status: {volume.get('state', '')}",
            f"Number of Bricks: {brick_count(volume)}",
            f"Transport-type: {volume.get('transport') or 'tcp'}",
            "Bricks:",
        ]
        for number, brick in enumerate(volume.get("bricks") or [], 1):
            suffix = " (arbiter)" if brick.get("arbiter") else ""
            lines.append(f"Brick{number}: {brick.get('host', '')}:{brick.get('path', '')}{suffix}")
        options = volume.get("options") or {}
        if options:
            lines.append("Options Reconfigured:")
            lines += [f"{key}: {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def volume_list(volumes: list[dict[str, Any]]) -> str:
    """``volume list``: one name per line."""
    if not volumes:
        return "No volumes present in cluster\n"
    return "".join(f"{volume.get('name', '')}\n" for volume in volumes)


def peer_table(peers: list[dict[str, Any]]) -> str:
    """``peer list`` / ``pool list``: UUID, name, addresses and connection state."""
    rows = [("UUID", "Name", "Addresses", "State")]
    rows += [(str(peer.get("id", "")), str(peer.get("name", "")), ",".join(peer.get("addresses") or []),
              "Connected" if peer.get("online") else "Disconnected") for peer in peers]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "".join("  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]])
                   + "\n" for row in rows)


def store_dump(entries: list[dict[str, Any]], prefix: str) -> str:
    """``debug store``: each key with its kind and schema, then its value as indented JSON."""
    if not entries:
        return f"No store entries under {prefix!r}\n" if prefix else "No store entries\n"
    blocks = []
    for entry in entries:
        schema = entry.get("schema_version", entry.get("schema", "?"))
        value = json.dumps(entry.get("value"), indent=2, sort_keys=True)
        indented = "\n".join("  " + line for line in value.splitlines())
        blocks.append(f"{entry.get('key', '')} ({entry.get('kind', '')}, schema {schema})\n{indented}\n")
    return "\n".join(blocks)


def daemon_version(info: dict[str, Any]) -> str:
    """The daemon's half of ``version`` (the client's line is printed first)."""
    return f"glusterd2 {info.get('version', '?')} (API {info.get('api', '?')})\n"


EXIT_PARTIAL = 3


def _status_rows(status: dict[str, Any]) -> list[str]:
    rows = []
    for brick in status.get("bricks") or []:
        online = "Y" if brick.get("online") else "N"
        port = brick.get("port") or "N/A"
        pid = brick.get("pid") or "N/A"
        rows.append(f"{'Brick ' + str(brick.get('host')) + ':' + str(brick.get('path')):<50} "
                    f"{port!s:<10}{'N/A':<11}{online:<8}{pid}")
    for daemon in status.get("daemons") or []:
        online = "Y" if daemon.get("online") else "N"
        rows.append(f"{str(daemon.get('name')) + ' on ' + str(daemon.get('host')):<50} "
                    f"{'N/A':<10}{'N/A':<11}{online:<8}{daemon.get('pid') or 'N/A'}")
    return rows


def volume_status(status: dict[str, Any]) -> str:
    """``volume status NAME`` in gluster's table layout."""
    lines = [f"Status of volume: {status.get('name', '')}",
             f"{'Gluster process':<50} {'TCP Port':<10}{'RDMA Port':<11}{'Online':<8}Pid",
             "-" * 86, *_status_rows(status)]
    if status.get("state") != "Started":
        lines.append(f"Volume {status.get('name', '')} is not started")
    return "\n".join(lines) + "\n"


def _failed_bricks(data: dict[str, Any]) -> list[dict[str, Any]]:
    bricks = (data.get("status") or {}).get("bricks") or []
    return [b for b in bricks if not b.get("online") and b.get("error") != "on another peer"]


def volume_started(name: str, data: dict[str, Any]) -> str:
    """``volume start``: success, plus one line for each brick that did not come up."""
    lines = [f"volume start: {name}: success"]
    lines += [f"volume start: {name}: brick {b.get('host')}:{b.get('path')} failed: {b.get('error')}"
              for b in _failed_bricks(data)]
    return "\n".join(lines) + "\n"


def start_exit_status(data: dict[str, Any]) -> int:
    return EXIT_PARTIAL if _failed_bricks(data) else 0


def volume_options(data: dict[str, Any]) -> str:
    """``volume get NAME KEY|all``: gluster's two columns, Option and Value."""
    options = data.get("options") or []
    lines = [f"{'Option':<50} Value", f"{'------':<50} -----"]
    lines += [f"{o.get('key', ''):<50} {o.get('value', '')}" for o in options]
    return "\n".join(lines) + "\n"
