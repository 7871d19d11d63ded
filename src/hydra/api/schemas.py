"""Request bodies of the API, validated with pydantic (unknown fields are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoopUpdate(_Body):
    enabled: bool | None = None
    interval_s: float | None = Field(default=None, gt=0)
    mode: Literal["live", "shadow"] | None = None
    reason: str = Field(min_length=1, max_length=500)
    drain: bool = False
    """When switching off: let the in-flight tick finish instead of cancelling it."""


class GlobalSwitch(_Body):
    enabled: bool
    reason: str = Field(min_length=1, max_length=500)
    drain: bool = False
