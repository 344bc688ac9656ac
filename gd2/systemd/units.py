"""Pure translation of a daemon into a transient unit: its name and its properties.

Names follow ``systemd-escape``: every word of the daemon's name is escaped
(``/`` becomes ``-``, a literal ``-`` becomes ``\\x2d``) and the words are
joined with ``-``, so ``brick gv0 10.0.0.1:/bricks/b1`` runs as
``gd2-brick-gv0-10.0.0.1:-bricks-b1.service``, in ``gd2.slice``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

SLICE = "gd2.slice"
PREFIX = "gd2-"
SUFFIX = ".service"
_MAX_NAME = 255  # systemd's limit on unit names
_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.")


def escape(text: str) -> str:
    """``systemd-escape TEXT`` (not ``--path``): unambiguous, reversible unit-name text."""
    out = []
    for i, char in enumerate(text):
        if char == "/":
            out.append("-")
        elif char in _KEEP and not (char == "." and i == 0):
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in char.encode())
    return "".join(out)


def unit_name(daemon: str) -> str:
    """The unit of the daemon glusterd2 calls ``daemon`` (``brick gv0 HOST:PATH``, ``shd gv0``)."""
    name = PREFIX + "-".join(escape(word) for word in daemon.split()) + SUFFIX
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(daemon.encode()).hexdigest()[:16]
    return name[: _MAX_NAME - len(SUFFIX) - 17] + "-" + digest + SUFFIX


def object_path(unit: str) -> str:
    """The unit's D-Bus object path (systemd's bus-label escaping)."""
    label = "".join(c if c.isascii() and c.isalnum() else f"_{ord(c):02x}" for c in unit)
    return "/org/freedesktop/systemd1/unit/" + label


Variant = tuple[str, Any]


def unit_properties(daemon: str, argv: Sequence[str], env: Mapping[str, str],
                    stop_timeout: float) -> list[tuple[str, Variant]]:
    """The properties a brick or helper unit starts with.

    The process runs in the foreground (systemd is its parent); it is ready
    once exec succeeded (``Type=exec``), and the supervisor waits for the
    daemon's own readiness (a brick's SIGNIN) on top.  systemd does not
    restart it (``Restart=no``): restarts, backoff and crash-loop detection
    belong to glusterd2's supervisor, identically on both backends.  On stop,
    SIGTERM goes to the main process, SIGKILL to whatever is left after
    ``stop_timeout``.
    """
    environment = [f"{key}={value}" for key, value in sorted(env.items())]
    return [
        ("Description", ("s", f"glusterd2 {daemon}")),
        ("Slice", ("s", SLICE)),
        ("Type", ("s", "exec")),
        ("ExecStart", ("a(sasb)", [(argv[0], list(argv), False)])),
        ("Environment", ("as", environment)),
        ("KillMode", ("s", "mixed")),
        ("KillSignal", ("i", 15)),
        ("TimeoutStopUSec", ("t", int(stop_timeout * 1_000_000))),
        ("Restart", ("s", "no")),
        ("CollectMode", ("s", "inactive")),
        ("StandardInput", ("s", "null")),
    ]
