"""`/v1/plugins`: the plugins and their state; `/v1/plugins/{name}/...` forwarded to the plugin."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response

from gd2.api.models import ErrorResponse
from gd2.api.plugins import PluginList
from gd2.plugins.host import PluginHost
from gd2.plugins.model import HttpCall
from gd2.rest.deadline import within

PLUGINS = "/v1/plugins"
_ERRORS: dict[int | str, dict[str, object]] = {status: {"model": ErrorResponse} for status in (401, 404, 500, 503)}
_FORWARDED_HEADERS = ("content-type", "accept", "user-agent")


def router(host: PluginHost, timeout: float) -> APIRouter:
    api = APIRouter(tags=["plugins"], responses=_ERRORS)

    @api.get(PLUGINS, response_model=PluginList, summary="Plugins: name, version, state, restarts, contributions")
    async def list_plugins() -> PluginList:
        return host.listing()

    @api.api_route(PLUGINS + "/{name}/{path:path}", methods=["GET", "POST", "PUT", "DELETE"],
                   summary="A plugin's own REST command, forwarded to it (see GET /v1/plugins for its routes)")
    async def forward(name: str, path: str, request: Request) -> Response:
        body = await request.body()
        reqid = structlog.contextvars.get_contextvars().get("reqid", "")
        call = HttpCall(method=request.method, path="/" + path, query=request.url.query, body=body,
                        headers={k: v for k, v in request.headers.items() if k in _FORWARDED_HEADERS},
                        request_id=str(reqid))
        answer = await within(timeout, lambda: host.forward(name, call))
        return Response(content=answer.body, status_code=answer.status, media_type=answer.content_type)

    return api
