"""systemd over D-Bus (jeepney): transient units, their state and signals, and whether systemd runs here.

The daemon backend built on it is gd2.daemons.systemd (the supervisor's layer).
"""

from gd2.systemd.bus import SystemdBus, SystemdError, SystemdUnavailable, UnitState, system_bus_address
from gd2.systemd.detect import choose_backend, systemd_is_init
from gd2.systemd.units import SLICE, unit_name, unit_properties

__all__ = ["SLICE", "SystemdBus", "SystemdError", "SystemdUnavailable", "UnitState", "choose_backend",
           "system_bus_address", "systemd_is_init", "unit_name", "unit_properties"]
