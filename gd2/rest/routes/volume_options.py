"""`/v1/volumes/{name}/options`: volume set, get, reset."""

from __future__ import annotations

from fastapi import APIRouter

from gd2.api import routes
from gd2.api.models import ErrorResponse, VolumeInfo
from gd2.api.options import OptionList, OptionsResetRequest, OptionsSetRequest
from gd2.commands.volume_options import OptionService
from gd2.rest.deadline import within

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse} for status in (401, 404, 409, 422, 500, 503)
}


def router(options: OptionService, timeout: float) -> APIRouter:
    api = APIRouter(tags=["options"], responses=_ERRORS)

    @api.get(routes.volume_options("{name}"), response_model=OptionList,
             summary="Options of a volume with their defaults (one key, or all)")
    async def get_options(name: str, key: str | None = None) -> OptionList:
        return await within(timeout, lambda: options.get(name, key))

    @api.post(routes.volume_options("{name}"), response_model=VolumeInfo, summary="Set volume options")
    async def set_options(name: str, req: OptionsSetRequest) -> VolumeInfo:
        return (await within(timeout, lambda: options.set(name, dict(req.options)))).public()

    @api.post(routes.volume_options_reset("{name}"), response_model=VolumeInfo,
              summary="Return options to their defaults")
    async def reset_options(name: str, req: OptionsResetRequest) -> VolumeInfo:
        return (await within(timeout, lambda: options.reset(name, list(req.keys), req.all))).public()

    return api
