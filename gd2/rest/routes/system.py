"""`/ping`, `/version`: liveness and what is running."""

from __future__ import annotations

from fastapi import APIRouter

import gd2
from gd2.api import routes
from gd2.api.models import Ping, VersionInfo
from gd2.commands.services import Services


def router(services: Services) -> APIRouter:
    api = APIRouter(tags=["system"])

    @api.get(routes.PING, response_model=Ping, summary="Liveness of this glusterd2")
    async def ping() -> Ping:
        return Ping(peer_id=services.node.peer_id)

    @api.get(routes.VERSION, response_model=VersionInfo, summary="glusterd2 and API versions")
    async def version() -> VersionInfo:
        return VersionInfo(version=gd2.__version__, api=routes.API_VERSION)

    return api
