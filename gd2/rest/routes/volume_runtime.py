"""`/v1/volumes/{name}/start|stop|status`: the daemons of a volume."""

from __future__ import annotations

from fastapi import APIRouter

from gd2.api import routes
from gd2.api.models import ErrorResponse, VolumeInfo
from gd2.api.runtime import VolumeStartRequest, VolumeStartResult, VolumeStatus, VolumeStopRequest
from gd2.commands.volume_start import VolumeRuntime
from gd2.rest.deadline import within

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (401, 404, 409, 422, 500, 503)
}


def router(runtime: VolumeRuntime, timeout: float) -> APIRouter:
    api = APIRouter(tags=["volumes"], responses=_ERRORS)

    @api.post(routes.volume_start("{name}"), response_model=VolumeStartResult,
              summary="Start the volume's bricks (force: also restart bricks that are down)")
    async def start_volume(name: str, req: VolumeStartRequest | None = None) -> VolumeStartResult:
        force = req.force if req else False
        return await within(timeout, lambda: runtime.start(name, force=force))

    @api.post(routes.volume_stop("{name}"), response_model=VolumeInfo, summary="Stop the volume's daemons")
    async def stop_volume(name: str, req: VolumeStopRequest | None = None) -> VolumeInfo:
        force = req.force if req else False
        return (await within(timeout, lambda: runtime.stop(name, force=force))).public()

    @api.get(routes.volume_status("{name}"), response_model=VolumeStatus,
             summary="Bricks and daemons: online, port, pid")
    async def volume_status(name: str) -> VolumeStatus:
        return await within(timeout, lambda: runtime.status(name))

    return api
