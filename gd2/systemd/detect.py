"""Which daemon backend to use: systemd units when systemd runs this machine, else plain processes."""

from __future__ import annotations

from pathlib import Path

import structlog
import trio
from jeepney import DBusAddress, Properties
from jeepney.io.trio import open_dbus_connection

log = structlog.get_logger(__name__)


def systemd_is_init(run: Path = Path("/run")) -> bool:
    """True when the system was booted with systemd (it creates ``/run/systemd/system``), as sd_booted(3)."""
    return (run / "systemd" / "system").is_dir()


_PROBE_TIMEOUT = 2.0


async def systemd_answers(address: str) -> bool:
    """Whether systemd's manager answers on the bus at ``address`` (within 2 s)."""
    manager = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                          interface="org.freedesktop.systemd1.Manager")
    with trio.move_on_after(_PROBE_TIMEOUT):
        try:
            connection = await open_dbus_connection(address)
        except (OSError, EOFError, ValueError):
            return False
        async with connection:
            await connection.send(Properties(manager).get("Version"))
            reply = await connection.receive()
            return bool(reply.body)
    return False


async def choose_backend(setting: str, address: str) -> str:
    """``process`` or ``systemd`` for the configured ``daemon-backend`` (auto, systemd or process)."""
    if setting != "auto":
        return setting
    if not systemd_is_init():
        return "process"
    if await systemd_answers(address):
        return "systemd"
    log.warning("systemd is init but its bus does not answer; running daemons as plain processes", bus=address)
    return "process"
