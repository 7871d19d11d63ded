"""Per-loop configuration: ``[loops.<name>]`` tables checked against each loop's metadata.

A table holds the keys every loop has (``enabled``, ``interval_s``, ``timeout_s``, ``mode``)
and the loop's own options, validated against its ``Options`` model. An unknown loop name, an
unknown key or a bad value raises :class:`hydra.settings.SettingsError` with one line naming
``loops.<name>.<key>`` and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hydra.registry import LoopEntry, LoopRegistry
from hydra.sdk import LoopMode
from hydra.settings import SettingsError, format_validation_error


class _CommonKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interval_s: float | None = Field(default=None, gt=0)
    timeout_s: float | None = Field(default=None, gt=0)
    mode: Literal["live", "shadow"] | None = None
    daily_budget_usd: float | None = Field(default=None, ge=0)


COMMON_KEYS = frozenset(_CommonKeys.model_fields)


@dataclass(frozen=True)
class LoopConfig:
    """A loop's static configuration after validation."""

    name: str
    enabled: bool
    """The static config gate: ``False`` means the loop never starts and cannot be switched on."""
    interval_s: float
    timeout_s: float
    mode: LoopMode
    options: BaseModel
    bounds: tuple[float, float]
    daily_budget_usd: float | None = None
    """Spend cap per UTC day; passing it switches the loop off with reason ``budget``."""


def resolve_loop_configs(
    raw: Mapping[str, Mapping[str, Any]],
    registry: LoopRegistry,
    *,
    default_mode: LoopMode | None = None,
) -> dict[str, LoopConfig]:
    """Validate every ``[loops.<name>]`` table; one :class:`LoopConfig` per loadable loop.

    ``default_mode`` replaces each loop's own default mode where the table sets none (the fake
    world spends nothing, so there every loop runs live unless told otherwise).
    """
    for name in raw:
        if name not in registry:
            known = ", ".join(registry.names()) or "none"
            raise SettingsError(f"loops.{name}: unknown loop (known loops: {known})")
    return {
        entry.name: _resolve(entry, raw.get(entry.name, {}), default_mode)
        for entry in registry.loadable()
    }


def _resolve(
    entry: LoopEntry, table: Mapping[str, Any], default_mode: LoopMode | None
) -> LoopConfig:
    cls = entry.loop_class
    prefix = f"loops.{entry.name}."
    common_raw = {k: v for k, v in table.items() if k in COMMON_KEYS}
    options_raw = {k: v for k, v in table.items() if k not in COMMON_KEYS}
    try:
        common = _CommonKeys.model_validate(common_raw)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, prefix=prefix)) from None
    accepted = _option_keys(cls.Options)
    for key in options_raw:
        if key not in accepted:
            raise SettingsError(f"{prefix}{key}: unknown key for loop {entry.name!r}")
    try:
        options = cls.Options.model_validate(options_raw)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, prefix=prefix)) from None
    low, high = cls.interval_bounds
    interval = common.interval_s if common.interval_s is not None else float(cls.default_interval_s)
    if not low <= interval <= high:
        raise SettingsError(
            f"{prefix}interval_s: {interval:g} s is outside the bounds [{low:g}, {high:g}] "
            f"of loop {entry.name!r}"
        )
    return LoopConfig(
        name=entry.name,
        enabled=common.enabled,
        interval_s=interval,
        timeout_s=common.timeout_s or float(cls.default_timeout_s),
        mode=common.mode or default_mode or cls.default_mode,
        options=options,
        bounds=(float(low), float(high)),
        daily_budget_usd=common.daily_budget_usd,
    )


def _option_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(name)
        if isinstance(field.alias, str):
            keys.add(field.alias)
    return keys
