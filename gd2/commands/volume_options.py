"""Volume options: `volume set|get|reset` with glusterd1's keys.

A key must be in volgen's catalogue; its value is checked against what the
installed xlators accept for every option the key drives (their real option
tables, gd2.xlators), so a bad value is refused here with the valid choices
instead of breaking a brick later.  A change rewrites the volume record with
one compare-and-swap and then tells every connected GlusterFS process to
fetch its volfile again (FETCHSPEC).
"""

from __future__ import annotations

import difflib
import re
from typing import Protocol

import structlog
import trio

from gd2.api.events import EventKind
from gd2.api.models import Volume
from gd2.api.options import OptionList, OptionValue
from gd2.commands import keys
from gd2.commands.hooks import NO_HOOKS, HookPoints
from gd2.commands.volumes import VolumeService
from gd2.errors import Conflict, InvalidRequest
from gd2.events import NO_EVENTS, EventSink
from gd2.volgen.options import ValueKind, VolumeOption, all_keys, create_defaults, lookup
from gd2.xlators import XlatorTable, check_address_list, check_toggle, check_value

log = structlog.get_logger(__name__)

_TEMPLATE = re.compile(r"\{[a-z_]+\}")
# What a template field of an xlator option name stands for when the option is looked up in the
# xlators' tables: the tables name such options with patterns (protocol/server's
# ``auth.addr.*.allow``), which any concrete brick path or volume name matches.
_SAMPLE_FIELDS = {"brick_path": "/brick", "brick_host": "host", "volume": "volume"}


def _sample_option(option: str) -> str:
    return _TEMPLATE.sub(lambda m: _SAMPLE_FIELDS.get(m.group(0)[1:-1], "x"), option)


class VolfileNotifier(Protocol):
    async def notify_fetchspec(self) -> object: ...


class ExtraOptions(Protocol):
    """Volume options beyond volgen's catalogue (the plugins', gd2.plugins.host.PluginHost)."""

    def option(self, key: str) -> VolumeOption | None: ...

    def option_keys(self) -> tuple[str, ...]: ...


def _unknown(key: str) -> InvalidRequest:
    close = difflib.get_close_matches(key, all_keys(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return InvalidRequest(f"option {key} does not exist{hint}", {"option": key})


class OptionValidator:
    """Catalogue (which xlator options a key drives) + xlator tables (what they accept)."""

    def __init__(self, table: XlatorTable | None = None, *, pending: bool = False) -> None:
        # None when the xlator tables could not be read: keys are still checked, values only
        # against the catalogue's choices (logged at start).  ``pending``: the tables are being
        # read in the background (glusterd2 does not wait for them to serve); see provide().
        self._table = table
        self._loaded = trio.Event()
        self._extra: ExtraOptions | None = None
        if not pending:
            self._loaded.set()

    def extend(self, extra: ExtraOptions) -> None:
        """Also accept the keys ``extra`` knows (after the catalogue's)."""
        self._extra = extra

    def lookup(self, key: str) -> VolumeOption | None:
        spec = lookup(key)
        if spec is None and self._extra is not None:
            spec = self._extra.option(key)
        return spec

    def known_keys(self) -> tuple[str, ...]:
        return all_keys() + (self._extra.option_keys() if self._extra is not None else ())

    def provide(self, table: XlatorTable | None) -> None:
        """The tables have been read (or could not be: None)."""
        self._table = table
        self._loaded.set()

    async def ready(self) -> None:
        """Wait until the tables are known (only the first `volume set` after a start may wait)."""
        await self._loaded.wait()

    def check(self, key: str, value: str) -> str:
        spec = self.lookup(key)
        if spec is None:
            raise _unknown(key)
        if not spec.targets and spec.kind is ValueKind.BOOL:  # a plugin's key: only its declared kind
            check_toggle(value, name=key)
        if not spec.targets and spec.kind is ValueKind.INT and not value.strip().lstrip("-").isdigit():
            raise InvalidRequest(f"invalid value {value!r} for {key}: must be an integer",
                                 {"option": key, "value": value})
        if spec.kind is ValueKind.ADDRESS_LIST:
            check_address_list(value, name=key)
        if spec.choices and value.lower() not in (c.lower() for c in spec.choices):
            raise InvalidRequest(f"invalid value {value!r} for {key}: must be one of {', '.join(spec.choices)}",
                                 {"option": key, "value": value})
        for target in spec.targets:
            if target.toggles:
                check_toggle(value, name=key)
                continue
            assert target.option is not None
            option = _sample_option(target.option)
            if self._table is None:
                continue
            known = self._table.lookup(target.xlator, option)
            if known is not None:
                check_value(known, value, name=key)
        return value


class OptionService:
    def __init__(self, volumes: VolumeService, validator: OptionValidator, notifier: VolfileNotifier,
                 hooks: HookPoints = NO_HOOKS, events: EventSink = NO_EVENTS) -> None:
        self._volumes = volumes
        self._events = events
        self._hooks = hooks
        self._validator = validator
        self._notifier = notifier

    async def _update(self, name: str, change: dict[str, str | None], reset_all: bool = False) -> Volume:
        for _ in range(20):
            entry = await self._volumes.entry(name)
            volume = Volume.model_validate(entry.value)
            options = create_defaults(volume.type) if reset_all else dict(volume.options)
            for key, value in change.items():
                if value is None:
                    options.pop(key, None)
                else:
                    options[key] = value
            updated = volume.model_copy(update={"options": options})
            if await self._volumes.store.update(keys.volume(name), keys.KIND_VOLUME,
                                                updated.model_dump(mode="json"), entry.mod_revision):
                if updated.options != volume.options:
                    await self._notifier.notify_fetchspec()
                return updated
        raise Conflict(f"volume {name} keeps changing; try again", {"name": name})

    async def set(self, name: str, options: dict[str, str]) -> Volume:
        await self._volumes.get(name)  # NotFound before validation errors
        await self._validator.ready()
        checked = {key: self._validator.check(key, value) for key, value in options.items()}
        await self._hooks.pre("set", name, tuple(checked.items()))
        volume = await self._update(name, dict(checked))
        log.info("volume options set", volume=name, options=checked)
        self._events.emit(EventKind.VOLUME_SET, volume=name, options=checked,
                          message=f"volume {name}: " + ", ".join(f"{k}={v}" for k, v in checked.items()))
        self._hooks.post("set", name, tuple(checked.items()))
        return volume

    async def reset(self, name: str, keys_: list[str], reset_all: bool) -> Volume:
        volume = await self._volumes.get(name)
        if not reset_all and not keys_:
            raise InvalidRequest("give the keys to reset, or all", {"keys": "empty"})
        for key in keys_:
            if self._validator.lookup(key) is None:
                raise _unknown(key)
        defaults = create_defaults(volume.type)
        await self._hooks.pre("reset", name)
        volume = await self._update(name, {k: defaults.get(k) for k in keys_}, reset_all=reset_all)
        log.info("volume options reset", volume=name, keys="all" if reset_all else keys_)
        self._events.emit(EventKind.VOLUME_RESET, volume=name,
                          options=None if reset_all else {k: volume.options.get(k, "") for k in keys_},
                          message=f"volume {name}: " + ("all options reset" if reset_all else
                                                        "reset " + ", ".join(keys_)))
        self._hooks.post("reset", name)
        return volume

    async def get(self, name: str, key: str | None) -> OptionList:
        volume = await self._volumes.get(name)
        specs: list[VolumeOption]
        if key is not None:
            spec = self._validator.lookup(key)
            if spec is None:
                raise _unknown(key)
            specs = [spec]
        else:
            specs = [s for k in self._validator.known_keys() if (s := self._validator.lookup(k)) is not None]
        return OptionList(options=[
            OptionValue(key=s.key, value=volume.options.get(s.key, s.default or ""), default=s.default,
                        reconfigured=s.key in volume.options) for s in specs])
