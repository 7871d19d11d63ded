"""Runtime switches as values, and their state file's format (``<data>/state/switches.json``).

:class:`Switch` is one switch with the overrides that travel with it; :class:`SwitchEvent` is
announced after a change; :func:`encode` / :func:`decode` turn the board's state into the file's
JSON and back. The board itself (validation, audit, persistence, replay) is
:mod:`hydra.switches`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

STATE_VERSION = 1
SwitchErrorKind = Literal["not_found", "conflict", "invalid"]
SWITCH_ACTIONS = frozenset(
    {
        "loop.enabled",
        "loop.disabled",
        "loop.updated",
        "global.enabled",
        "global.disabled",
        "repo.enabled",
        "repo.disabled",
    }
)
REPO_TARGET_PREFIX = "repo:"


class SwitchError(Exception):
    """A switch change was refused; ``kind`` maps to HTTP 404 / 409 / 422."""

    def __init__(self, kind: SwitchErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: SwitchErrorKind = kind


@dataclass(frozen=True)
class Switch:
    """One runtime switch and the overrides that travel with it."""

    enabled: bool = True
    actor: str | None = None
    reason: str | None = None
    at: str | None = None
    interval_s: float | None = None
    mode: Literal["live", "shadow"] | None = None
    daily_budget_usd: float | None = None


@dataclass(frozen=True)
class SwitchEvent:
    """Announced after a change took effect."""

    target: str
    """A loop name, ``*`` for the global switch, or ``repo:<name>`` for a repository."""
    before: Switch
    after: Switch
    drain: bool


@dataclass
class SwitchState:
    global_: Switch = field(default_factory=Switch)
    loops: dict[str, Switch] = field(default_factory=dict)
    repos: dict[str, Switch] = field(default_factory=dict)
    control_seq: int = 0


def diff(
    before: Switch,
    *,
    enabled: bool | None,
    interval_s: float | None,
    mode: Literal["live", "shadow"] | None,
    budget: float | None = None,
) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    if budget is not None and budget != before.daily_budget_usd:
        changes["daily_budget_usd"] = {"old": before.daily_budget_usd, "new": budget}
    if enabled is not None and enabled != before.enabled:
        changes["enabled"] = {"old": before.enabled, "new": enabled}
    if interval_s is not None and interval_s != before.interval_s:
        changes["interval_s"] = {"old": before.interval_s, "new": interval_s}
    if mode is not None and mode != before.mode:
        changes["mode"] = {"old": before.mode, "new": mode}
    return changes


def encode(state: SwitchState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "control_seq": state.control_seq,
        "global": asdict(state.global_),
        "loops": {name: asdict(s) for name, s in sorted(state.loops.items())},
        "repos": {name: asdict(s) for name, s in sorted(state.repos.items())},
    }


def decode(raw: Any) -> SwitchState:
    version = raw.get("version") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or version != STATE_VERSION:
        raise ValueError(f"unsupported switch state file (version {version!r})")
    fields = set(Switch.__dataclass_fields__)

    def switch(data: Any) -> Switch:
        return Switch(**{k: v for k, v in (data or {}).items() if k in fields})

    return SwitchState(
        global_=switch(raw.get("global")),
        loops={name: switch(data) for name, data in (raw.get("loops") or {}).items()},
        repos={name: switch(data) for name, data in (raw.get("repos") or {}).items()},
        control_seq=int(raw.get("control_seq", 0)),
    )
