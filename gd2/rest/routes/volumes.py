"""`/v1/volumes`: volume definitions."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gd2.api import routes
from gd2.api.models import ErrorResponse, VolumeCreateRequest, VolumeInfo, VolumeList
from gd2.commands.services import Services
from gd2.rest.deadline import within

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (401, 404, 409, 422, 500, 503)
}


def router(services: Services, timeout: float) -> APIRouter:
    api = APIRouter(tags=["volumes"], responses=_ERRORS)
    volumes = services.volumes

    @api.get(routes.VOLUMES, response_model=VolumeList, summary="All volumes")
    async def list_volumes() -> VolumeList:
        return VolumeList(volumes=[v.public() for v in await within(timeout, volumes.list)])

    @api.post(routes.VOLUMES, response_model=VolumeInfo, status_code=201, summary="Create a volume")
    async def create_volume(req: VolumeCreateRequest) -> VolumeInfo:
        return (await within(timeout, lambda: volumes.create(req))).public()

    @api.get(routes.volume("{name}"), response_model=VolumeInfo, summary="One volume")
    async def get_volume(name: str) -> VolumeInfo:
        return (await within(timeout, lambda: volumes.get(name))).public()

    @api.delete(routes.volume("{name}"), status_code=204, response_class=Response,
                summary="Delete a stopped volume and release its bricks")
    async def delete_volume(name: str) -> Response:
        await within(timeout, lambda: volumes.delete(name))
        return Response(status_code=204)

    return api
