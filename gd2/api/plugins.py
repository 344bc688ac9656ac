"""Wire models of `/v1/plugins` (docs/plugins.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginRoute(_Model):
    method: str
    path: str  # under /v1/plugins/<name>
    summary: str = ""


class PluginContributions(_Model):
    xlators: list[str] = Field(default_factory=list)  # "brick:features/bitrot-stub when features.bitrot"
    options: list[str] = Field(default_factory=list)
    routes: list[PluginRoute] = Field(default_factory=list)
    daemons: bool = False
    events: list[str] = Field(default_factory=list)


class PluginInfo(_Model):
    name: str
    version: str
    # starting, running, restarting, failed, refused, disabled
    state: str
    restarts: int = 0
    pid: int | None = None
    path: str
    depends: list[str] = Field(default_factory=list)
    description: str = ""
    error: str | None = None
    contributes: PluginContributions = Field(default_factory=PluginContributions)


class PluginList(_Model):
    plugin_dir: str
    plugins: list[PluginInfo]
