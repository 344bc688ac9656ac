"""The D-Bus adapter for systemd's manager (jeepney, trio-native).

It owns one connection to the system bus for glusterd2's lifetime: ``run``
connects (reconnecting if the bus goes away), subscribes to unit property
changes and reports changes of our units to a callback; the methods below
call the manager.  jeepney's errors never leave this module: a D-Bus error
reply becomes a :class:`SystemdError` with systemd's error name, an
unreachable bus :class:`SystemdUnavailable`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import trio
from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.trio import DBusRouter, open_dbus_router
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from gd2.errors import GD2Error
from gd2.systemd.units import PREFIX, Variant, object_path

log = structlog.get_logger(__name__)

DEFAULT_ADDRESS = "unix:path=/run/dbus/system_bus_socket"
MANAGER = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                      interface="org.freedesktop.systemd1.Manager")
_SERVICE_IFACE = "org.freedesktop.systemd1.Service"
_OUR_PATHS = object_path(PREFIX)
_UNIT_CHANGES = MatchRule(type="signal", interface="org.freedesktop.DBus.Properties", member="PropertiesChanged",
                          path_namespace="/org/freedesktop/systemd1/unit")
_JOBS_DONE = MatchRule(type="signal", interface=MANAGER.interface, member="JobRemoved", path=MANAGER.object_path)
_FROM_SYSTEMD = MatchRule(type="signal", path_namespace="/org/freedesktop/systemd1")  # both of the above


def system_bus_address() -> str:
    """Where the system bus is: ``DBUS_SYSTEM_BUS_ADDRESS``, else the standard socket."""
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_ADDRESS


class SystemdUnavailable(GD2Error):
    code = "systemd_unavailable"


class SystemdError(GD2Error):
    code = "systemd_error"

    def __init__(self, message: str, dbus_name: str) -> None:
        super().__init__(message)
        self.dbus_name = dbus_name


@dataclass(frozen=True)
class UnitState:
    active: str  # ActiveState: active, activating, deactivating, inactive, failed
    sub: str  # SubState: running, exited, dead, failed...
    main_pid: int  # 0 when there is no main process (in systemd's PID namespace)
    result: str  # Result: success, exit-code, signal, core-dump, timeout...
    exit_status: int = 0  # ExecMainStatus: exit code or signal number of the last main process


class SystemdBus:
    def __init__(self, address: str, *, call_timeout: float = 10.0) -> None:
        self.address = address
        self._call_timeout = call_timeout
        self._router: DBusRouter | None = None
        self._connected = trio.Event()
        self._jobs_done: OrderedDict[str, str] = OrderedDict()  # job path -> result, most recent last
        self._job_waiters: dict[str, trio.Event] = {}

    async def run(self, on_change: Callable[[str], None] | None = None, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the bus connection until cancelled; ``on_change(unit_path)`` for our units.

        The first connection failing raises :class:`SystemdUnavailable`; after
        that a lost connection is re-established with backoff.
        """
        started = False
        delay = 0.1
        while True:
            try:
                async with open_dbus_router(self.address) as router:
                    await self._subscribe(router)
                    self._router = router
                    self._connected.set()
                    if not started:
                        task_status.started()
                        started = True
                    delay = 0.1
                    await self._listen(router, on_change)
            except (OSError, EOFError, DBusErrorResponse, ValueError) as exc:
                if not started:
                    raise SystemdUnavailable(f"cannot reach systemd on {self.address}: {exc}") from None
                log.warning("lost the system bus; reconnecting", address=self.address, error=str(exc))
            finally:
                self._router = None
                if self._connected.is_set():
                    self._connected = trio.Event()
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _subscribe(self, router: DBusRouter) -> None:
        for rule in (_UNIT_CHANGES, _JOBS_DONE):
            unwrap_msg(await router.send_and_get_reply(message_bus.AddMatch(rule)))
        unwrap_msg(await router.send_and_get_reply(new_method_call(MANAGER, "Subscribe")))

    async def _listen(self, router: DBusRouter, on_change: Callable[[str], None] | None) -> None:
        send, receive = trio.open_memory_channel[Message](1024)
        # One filter, registered for the router's whole life and never removed:
        # jeepney (0.9) fails when filters are removed while the router shuts down.
        router.filter(_FROM_SYSTEMD, channel=send)
        async for message in receive:
            if message.header.fields.get(HeaderFields.member) == "JobRemoved":
                _id, job, _unit, result = message.body
                self._job_finished(str(job), str(result))
                continue
            path = str(message.header.fields.get(HeaderFields.path, ""))
            if on_change is not None and path.startswith(_OUR_PATHS):
                on_change(path)
        raise EOFError("bus connection closed")

    def _job_finished(self, job: str, result: str) -> None:
        self._jobs_done[job] = result
        while len(self._jobs_done) > 1024:
            self._jobs_done.popitem(last=False)
        waiter = self._job_waiters.pop(job, None)
        if waiter is not None:
            waiter.set()

    async def wait_job(self, job: str) -> str:
        """Wait for a job to finish; its result (done, failed, canceled, timeout...).

        The ``JobRemoved`` signal wakes the waiter; a signal lost to a bus
        reconnection is covered by asking systemd about the job every second.
        """
        while job not in self._jobs_done:
            event = self._job_waiters.setdefault(job, trio.Event())
            if not await self.job_pending(job):
                return self._jobs_done.get(job, "done")
            with trio.move_on_after(1.0):
                await event.wait()
        return self._jobs_done[job]

    async def _call(self, address: DBusAddress, method: str, signature: str | None = None,
                    body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        with trio.move_on_after(self._call_timeout) as scope:
            await self._connected.wait()
            router = self._router
            if router is None:
                raise SystemdUnavailable(f"not connected to systemd on {self.address}")
            try:
                reply = await router.send_and_get_reply(new_method_call(address, method, signature, body))
            except (OSError, EOFError) as exc:
                raise SystemdUnavailable(f"systemd on {self.address}: {exc}") from None
        if scope.cancelled_caught:
            raise SystemdUnavailable(f"systemd on {self.address} did not answer {method} within "
                                     f"{self._call_timeout:g}s")
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(HeaderFields.error_name, "org.freedesktop.DBus.Error.Failed"))
            detail = reply.body[0] if reply.body else name
            raise SystemdError(f"{method}: {detail}", name)
        return tuple(reply.body)

    # ---- the manager ----------------------------------------------------------------------------

    async def start_transient(self, unit: str, properties: list[tuple[str, Variant]]) -> str:
        """Queue the unit's start; returns the job's object path."""
        (job,) = await self._call(MANAGER, "StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "fail", properties, []))
        return str(job)

    async def stop_unit(self, unit: str) -> str:
        """Queue the unit's stop; returns the job's object path."""
        (job,) = await self._call(MANAGER, "StopUnit", "ss", (unit, "replace"))
        return str(job)

    async def job_pending(self, job: str) -> bool:
        """Whether a job is still queued or running (systemd drops finished jobs)."""
        path = DBusAddress(job, bus_name=MANAGER.bus_name, interface="org.freedesktop.DBus.Properties")
        try:
            await self._call(path, "Get", "ss", ("org.freedesktop.systemd1.Job", "State"))
        except SystemdError as exc:
            if exc.dbus_name in ("org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.systemd1.NoSuchJob",
                                 "org.freedesktop.DBus.Error.UnknownMethod"):
                return False
            raise
        return True

    async def kill_unit(self, unit: str, signal: int) -> None:
        await self._call(MANAGER, "KillUnit", "ssi", (unit, "all", signal))

    async def reset_failed(self, unit: str) -> None:
        await self._call(MANAGER, "ResetFailedUnit", "s", (unit,))

    async def power_off(self) -> None:
        await self._call(MANAGER, "PowerOff")

    async def unit_state(self, unit: str) -> UnitState:
        """The unit's state; an unknown unit reads as inactive with no process.

        One ``ListUnitsByNames`` call, plus ``Get`` calls for the service's
        main pid or its result only when they matter (``GetAll`` costs ~10x more).
        """
        ((row, *_),) = await self._call(MANAGER, "ListUnitsByNames", "as", ([unit],))
        _name, _description, load, active, sub = row[:5]
        if load != "loaded":
            return UnitState(str(active), str(sub), 0, "")
        path = DBusAddress(object_path(unit), bus_name=MANAGER.bus_name, interface="org.freedesktop.DBus.Properties")
        if active in ("active", "reloading", "activating", "deactivating"):
            return UnitState(str(active), str(sub), int(await self._get(path, "MainPID")), "")
        return UnitState(str(active), str(sub), 0, str(await self._get(path, "Result")),
                         int(await self._get(path, "ExecMainStatus")))

    async def _get(self, path: DBusAddress, name: str) -> Any:
        ((_signature, value),) = await self._call(path, "Get", "ss", (_SERVICE_IFACE, name))
        return value
