"""Pydantic models of every request and response body.

Requests forbid unknown fields and use strict types: a wrong type or an
unknown key is refused with a field-level error instead of being guessed at.
The same volume and peer records are what the store keeps (msgpack-encoded,
see gd2.store.codec), so there is one definition of each.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(_Strict):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorResponse(_Strict):
    """The one shape of every failure: ``{"error": {...}}``."""

    error: ErrorBody


class VersionInfo(_Strict):
    version: str
    api: str


class Ping(_Strict):
    status: str = "ok"
    peer_id: str


class Peer(_Strict):
    """A member of the trusted storage pool."""

    id: str
    name: str
    addresses: list[str]
    cluster_id: str
    online: bool = False
    peer_port: int | None = None  # where members reach its peer RPC (mutual TLS)
    etcd: str = ""  # "member": runs one of the pool's etcd members; "client": uses them


class VolumeType(StrEnum):
    """Types as glusterd1 names them in `gluster volume info`."""

    DISTRIBUTE = "Distribute"
    REPLICATE = "Replicate"
    DISTRIBUTED_REPLICATE = "Distributed-Replicate"
    DISPERSE = "Disperse"
    DISTRIBUTED_DISPERSE = "Distributed-Disperse"


class VolumeState(StrEnum):
    CREATED = "Created"
    STARTED = "Started"
    STOPPED = "Stopped"


class Brick(_Strict):
    """One exported directory of a volume, owned by one peer."""

    id: str
    peer_id: str
    host: str
    path: str
    arbiter: bool = False

    @property
    def name(self) -> str:
        return f"{self.host}:{self.path}"


class VolumeAuth(_Strict):
    """Credentials protocol/client presents to protocol/server (auth.login), as glusterd1 sets."""

    username: str
    password: str


class VolumeInfo(_Strict):
    """A volume as the API shows it."""

    id: str
    name: str
    type: VolumeType
    state: VolumeState
    transport: str = "tcp"
    replica_count: int = 1
    arbiter_count: int = 0
    disperse_count: int = 0
    redundancy_count: int = 0
    distribute_count: int = 1
    bricks: list[Brick]
    options: dict[str, str] = Field(default_factory=dict)
    created_at: str

    @property
    def subvolume_size(self) -> int:
        """Bricks per replica/disperse set (1 for plain distribute)."""
        return len(self.bricks) // self.distribute_count


class Volume(VolumeInfo):
    """A volume as the store keeps it: the API's view plus its secrets."""

    auth: VolumeAuth

    def public(self) -> VolumeInfo:
        return VolumeInfo.model_validate(self.model_dump(exclude={"auth"}))


VolumeName = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class VolumeCreateRequest(_Strict):
    """`POST /v1/volumes`: the same shape as `gluster volume create`'s arguments."""

    name: VolumeName
    bricks: Annotated[list[StrictStr], Field(min_length=1, max_length=4096)]
    replica: StrictInt | None = None
    arbiter: StrictInt | None = None
    disperse: StrictInt | None = None
    redundancy: StrictInt | None = None
    force: StrictBool = False


class VolumeList(_Strict):
    volumes: list[VolumeInfo]


class PeerList(_Strict):
    peers: list[Peer]


class PeerAddRequest(_Strict):
    """Add an empty node, reached on its join port, to this pool."""

    host: str = Field(min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)


class StoreEntry(_Strict):
    key: str
    schema_version: int
    kind: str
    value: object


class StoreDump(_Strict):
    entries: list[StoreEntry]
