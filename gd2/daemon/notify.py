"""sd_notify: readiness, status lines and watchdog pings, only when systemd asked for them.

systemd sets ``NOTIFY_SOCKET`` for a ``Type=notify`` unit and ``WATCHDOG_USEC``
(with ``WATCHDOG_PID``) when the unit has ``WatchdogSec=``.  Without them every
function here is a no-op: glusterd2 started by hand or by a test must not log
errors about a socket nobody asked it to use.  The datagrams go through
cysystemd (libsystemd's ``sd_notify``, which also handles abstract ``@`` sockets).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import structlog
import trio

log = structlog.get_logger("gd2.daemon.notify")

_CONSTANT_STATES = ("READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1")


def _send(name: str, value: str | None = None) -> None:
    from cysystemd.daemon import Notification
    from cysystemd.daemon import notify as sd_notify

    # return_exceptions=False: a failure is ours to report once, not cysystemd's to log as an error.
    try:
        if value is None:
            sd_notify(Notification[name], return_exceptions=False)
        else:
            sd_notify(Notification[name], value, return_exceptions=False)
    except (OSError, ValueError) as exc:
        # cysystemd raises ValueError(message, -errno).  systemd went away or the socket is
        # not ours: the daemon keeps serving, and says so once per failed datagram.
        log.warning("sd_notify failed", state=name, error=str(exc))


def notify(state: str) -> None:
    """Send one constant state (``READY=1``, ``STOPPING=1``, ``RELOADING=1``, ``WATCHDOG=1``)
    or a ``STATUS=text`` line; nothing when ``NOTIFY_SOCKET`` is not set."""
    if not os.environ.get("NOTIFY_SOCKET"):
        return
    if state.startswith("STATUS="):
        _send("STATUS", state.removeprefix("STATUS="))
    elif state in _CONSTANT_STATES:
        _send(state.removesuffix("=1"))
    else:
        raise ValueError(f"unsupported sd_notify state {state!r}")


def status(text: str) -> None:
    """Show ``text`` as the unit's status line (``systemctl status glusterd2``)."""
    # One line: systemd shows the status as-is and a newline would end the assignment.
    notify("STATUS=" + " ".join(text.split()))


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``WATCHDOG_USEC``, as sd_watchdog_enabled(3) advises.

    None when there is no watchdog for this process: no notify socket, no or a bad
    ``WATCHDOG_USEC``, or a ``WATCHDOG_PID`` naming another process (the variables
    were inherited, not meant for us).
    """
    env = os.environ if environ is None else environ
    if not env.get("NOTIFY_SOCKET"):
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000


async def watchdog_loop(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Ping the systemd watchdog at half its interval until cancelled; returns at once without one.

    It runs on the daemon's event loop on purpose: if that loop is wedged the pings
    stop and systemd restarts us, which is the point of the watchdog.
    """
    interval = watchdog_interval()
    task_status.started()
    if interval is None:
        return
    log.debug("systemd watchdog enabled", interval=interval)
    while True:
        notify("WATCHDOG=1")
        await trio.sleep(interval)
