"""`/v1/peers`: the trusted storage pool."""

from __future__ import annotations

from fastapi import APIRouter

from gd2.api import routes
from gd2.api.models import PeerList
from gd2.commands.services import Services
from gd2.rest.deadline import within


def router(services: Services, timeout: float) -> APIRouter:
    api = APIRouter(tags=["peers"])

    @api.get(routes.PEERS, response_model=PeerList, summary="Members of the pool")
    async def list_peers() -> PeerList:
        return PeerList(peers=await within(timeout, services.peers.list))

    return api
