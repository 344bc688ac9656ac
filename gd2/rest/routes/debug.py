"""`/v1/debug/store`: the store's values, decoded (for `gd2ctl debug store`)."""

from __future__ import annotations

from fastapi import APIRouter

from gd2.api import routes
from gd2.api.models import StoreDump, StoreEntry
from gd2.commands.pool import KIND_CA
from gd2.commands.services import Services
from gd2.rest.deadline import within


def _redacted(kind: str, value: object) -> object:
    # Volume records carry the brick login password; the dump is for reading state, not secrets.
    if kind == KIND_CA and isinstance(value, dict) and value.get("key"):  # the pool CA's private key
        return {**value, "key": "<redacted>"}
    if isinstance(value, dict) and isinstance(value.get("auth"), dict):
        return {**value, "auth": {**value["auth"], "password": "<redacted>"}}
    if isinstance(value, dict) and value.get("secret"):  # a webhook's signing secret
        return {**value, "secret": "<redacted>"}
    return value


def router(services: Services, timeout: float) -> APIRouter:
    api = APIRouter(tags=["debug"])

    @api.get(routes.DEBUG_STORE, response_model=StoreDump, summary="Decoded store entries under a prefix")
    async def dump_store(prefix: str = "") -> StoreDump:
        entries = await within(timeout, lambda: services.store.list_prefix(prefix))
        return StoreDump(entries=[StoreEntry(key=e.key, schema_version=e.schema, kind=e.kind,
                                             value=_redacted(e.kind, e.value)) for e in entries])

    return api
