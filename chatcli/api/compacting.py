"""The base of every object chat serve takes: strict."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """An object of the API: a misspelt field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
