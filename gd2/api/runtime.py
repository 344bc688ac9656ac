"""Wire models of running volumes: start/stop results and status."""

from __future__ import annotations

from pydantic import StrictBool

from gd2.api.models import VolumeInfo, _Strict


class VolumeStartRequest(_Strict):
    force: StrictBool = False


class VolumeStopRequest(_Strict):
    force: StrictBool = False


class BrickStatus(_Strict):
    """One brick as `gluster volume status` shows it."""

    id: str
    host: str
    path: str
    peer_id: str
    online: bool
    port: int | None = None
    pid: int | None = None
    error: str | None = None


class DaemonStatus(_Strict):
    name: str
    host: str
    online: bool
    pid: int | None = None


class VolumeStatus(_Strict):
    name: str
    state: str
    bricks: list[BrickStatus]
    daemons: list[DaemonStatus]


class VolumeStartResult(_Strict):
    """The volume after start, with every brick's outcome (a failed brick does not stop the rest)."""

    volume: VolumeInfo
    status: VolumeStatus
