"""`/v1/peers`: the trusted storage pool."""

from __future__ import annotations

from fastapi import APIRouter

from gd2.api import routes
from gd2.api.models import Peer, PeerAddRequest, PeerList
from gd2.commands.services import Services
from gd2.rest.deadline import within


def router(services: Services, timeout: float) -> APIRouter:
    api = APIRouter(tags=["peers"])

    @api.get(routes.PEERS, response_model=PeerList, summary="Members of the pool")
    async def list_peers() -> PeerList:
        return PeerList(peers=await within(timeout, services.peers.list))

    # Joining waits for the new node to restart inside the pool (its etcd joining the cluster).
    join_timeout = max(timeout, 120.0)

    @api.post(routes.PEERS, response_model=Peer, status_code=201, summary="Add an empty node to the pool")
    async def add_peer(request: PeerAddRequest) -> Peer:
        return await within(join_timeout, lambda: services.pool.add(request.host, request.port))

    @api.delete(routes.PEERS + "/{ref}", status_code=204, summary="Remove a node from the pool")
    async def remove_peer(ref: str, force: bool = False) -> None:
        await within(timeout, lambda: services.pool.remove(ref, force=force))

    return api
