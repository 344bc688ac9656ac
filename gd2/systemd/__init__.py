"""systemd as a daemon backend: bricks and helpers as transient units, over D-Bus (jeepney)."""

from gd2.systemd.backend import SystemdBackend
from gd2.systemd.bus import SystemdBus, SystemdUnavailable, system_bus_address
from gd2.systemd.detect import choose_backend, systemd_is_init

__all__ = ["SystemdBackend", "SystemdBus", "SystemdUnavailable", "choose_backend", "system_bus_address",
           "systemd_is_init"]
