"""Per-loop configuration: ``[loops.<name>]`` tables checked against each loop's metadata.

A table holds the keys every loop has (``enabled``, ``interval_s``, ``timeout_s``, ``mode``)
and the loop's own options, validated against its ``Options`` model. An unknown loop name, an
unknown key or a bad value raises :class:`hydra.settings.SettingsError` with one line naming
``loops.<name>.<key>`` and the reason.

Every option can also be set in the environment (``HYDRA_LOOPS__<NAME>__<KEY>``): the text of a
variable is decoded as JSON where the option is a list, tuple, set, table (dict) or model, so
``HYDRA_LOOPS__PREFLIGHT__DENY_LABELS='["a", "b"]'`` and
``HYDRA_LOOPS__SANDBOX_FIXER__SCENARIOS='[{"name": "unit", "command": "pytest"}]'`` work; text
that is not JSON is an error naming the variable.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections import abc
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from hydra.registry import LoopEntry, LoopRegistry
from hydra.sdk import LoopMode
from hydra.settings import EnvText, SettingsError, format_validation_error


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
    raw: abc.Mapping[str, abc.Mapping[str, Any]],
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
    entry: LoopEntry, table: abc.Mapping[str, Any], default_mode: LoopMode | None
) -> LoopConfig:
    cls = entry.loop_class
    prefix = f"loops.{entry.name}."
    common_raw = {k: v for k, v in table.items() if k in COMMON_KEYS}
    options_raw = {k: v for k, v in table.items() if k not in COMMON_KEYS}
    try:
        common = _CommonKeys.model_validate(common_raw)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc, prefix=prefix)) from None
    accepted = _option_fields(cls.Options)
    for key, value in options_raw.items():
        field = accepted.get(key)
        if field is None:
            raise SettingsError(f"{prefix}{key}: unknown key for loop {entry.name!r}")
        if isinstance(value, EnvText) and _is_structured(field.annotation):
            options_raw[key] = _decode_json(value, f"{prefix}{key}")
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


def _option_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """The options' fields by name and by alias."""
    fields: dict[str, FieldInfo] = {}
    for name, field in model.model_fields.items():
        fields[name] = field
        if isinstance(field.alias, str):
            fields[field.alias] = field
    return fields


_STRUCTURED: frozenset[object] = frozenset(
    {
        list,
        tuple,
        set,
        frozenset,
        dict,
        abc.Sequence,
        abc.MutableSequence,
        abc.Set,
        abc.MutableSet,
        abc.Mapping,
        abc.MutableMapping,
    }
)


def _is_structured(annotation: Any) -> bool:
    """Whether an option of this type is a list, tuple, set, table or model (``X | None``
    counts when every other member does): the environment gives it as JSON."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_structured(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(members) and all(_is_structured(arg) for arg in members)
    if (origin or annotation) in _STRUCTURED:
        return True
    return isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)
    )


def _decode_json(value: EnvText, key: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{key}: {value.variable} is not valid JSON ({exc.msg} at character {exc.pos}); "
            """write a list as '["a", "b"]' and a table as '{"key": "value"}'"""
        ) from None
