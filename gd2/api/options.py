"""Wire models of volume options (`volume set|get|reset`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictStr

from gd2.api.models import _Strict


class OptionsSetRequest(_Strict):
    options: Annotated[dict[StrictStr, StrictStr], Field(min_length=1, max_length=256)]


class OptionsResetRequest(_Strict):
    keys: list[StrictStr] = Field(default_factory=list, max_length=256)
    all: StrictBool = False


class OptionValue(_Strict):
    key: str
    value: str
    default: str | None
    reconfigured: bool  # set on this volume (glusterd1's "Options Reconfigured")


class OptionList(_Strict):
    options: list[OptionValue]
