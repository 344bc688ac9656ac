"""sd_notify through cysystemd, only when systemd asked for it."""

from __future__ import annotations

import os


def notify(state: str) -> None:
    """Send READY=1 / STOPPING=1 when NOTIFY_SOCKET is set (cysystemd logs an error otherwise)."""
    if not os.environ.get("NOTIFY_SOCKET"):
        return
    from cysystemd.daemon import Notification
    from cysystemd.daemon import notify as sd_notify

    sd_notify({"READY=1": Notification.READY, "STOPPING=1": Notification.STOPPING}[state])
