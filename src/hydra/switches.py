"""The kill-switch board: the static config gate, a runtime switch per loop and one global switch.

Every change is validated, then audited in the ``control`` stream (durable before anything else
happens), then persisted atomically to ``<data>/state/switches.json``, then applied in memory,
and finally announced to listeners (the orchestrator cancels or wakes the loop). The state file
remembers the ``control`` sequence number it reflects; at load, control records written after
it (a crash between audit and persist) are replayed, so the stream stays the source of truth.
A failed fsync of the state file pulls the daemon's fatal signal (the daemon stops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import anyio

from hydra.fatal import FatalSignal
from hydra.loop_config import LoopConfig
from hydra.sdk import AuditSink
from hydra.statefile import read_json, store_json
from hydra.switch_state import (
    REPO_TARGET_PREFIX,
    SWITCH_ACTIONS,
    Switch,
    SwitchError,
    SwitchEvent,
    SwitchState,
    decode,
    diff,
    encode,
)

__all__ = [
    "REPO_TARGET_PREFIX",
    "SWITCH_ACTIONS",
    "Switch",
    "SwitchBoard",
    "SwitchError",
    "SwitchEvent",
]


class SwitchBoard:
    """Owns the runtime switches. Create with :meth:`load`."""

    def __init__(
        self,
        path: Path,
        control: AuditSink,
        configs: Mapping[str, LoopConfig],
        *,
        broken: Mapping[str, str] | None = None,
        repos: Iterable[str] = (),
        fatal: FatalSignal | None = None,
    ) -> None:
        self._path = path
        self._fatal = fatal
        self._repos = tuple(repos)
        self._control = control
        self._configs = dict(configs)
        self._broken = dict(broken or {})
        self._state = SwitchState()
        self._lock = anyio.Lock()
        self._listeners: list[Callable[[SwitchEvent], None]] = []

    @classmethod
    async def load(
        cls,
        path: Path,
        control: AuditSink,
        configs: Mapping[str, LoopConfig],
        *,
        broken: Mapping[str, str] | None = None,
        replay: Iterable[Mapping[str, Any]] = (),
        repos: Iterable[str] = (),
        fatal: FatalSignal | None = None,
    ) -> SwitchBoard:
        """Read the state file and replay control records newer than it."""
        board = cls(path, control, configs, broken=broken, repos=repos, fatal=fatal)
        raw = await anyio.to_thread.run_sync(read_json, path)
        if raw is not None:
            board._state = decode(raw)
        replayed = False
        for record in replay:
            if (
                record.get("seq", 0) > board._state.control_seq
                and record.get("action") in SWITCH_ACTIONS
            ):
                board._apply_record(record)
                replayed = True
        if replayed:
            await board._write()
        return board

    def subscribe(self, listener: Callable[[SwitchEvent], None]) -> None:
        self._listeners.append(listener)

    # ------------------------------------------------------------------ reading
    @property
    def global_switch(self) -> Switch:
        return self._state.global_

    def loop_switch(self, name: str) -> Switch:
        return self._state.loops.get(name, Switch())

    def blocked_reason(self, name: str) -> str | None:
        """Why ``name`` must not tick now, or ``None`` when every gate is open."""
        config = self._configs.get(name)
        if name in self._broken:
            return f"plugin is broken: {self._broken[name]}"
        if config is None:
            return "unknown loop"
        if not config.enabled:
            return "disabled in config"
        if not self._state.global_.enabled:
            return f"global switch off: {self._state.global_.reason or 'no reason given'}"
        switch = self.loop_switch(name)
        if not switch.enabled:
            return (
                f"switched off by {switch.actor or 'unknown'}: {switch.reason or 'no reason given'}"
            )
        return None

    @property
    def repos(self) -> tuple[str, ...]:
        """Managed repositories, in settings order."""
        return self._repos

    def repo_switch(self, name: str) -> Switch:
        return self._state.repos.get(name, Switch())

    def enabled_repos(self) -> tuple[str, ...]:
        return tuple(r for r in self._repos if self.repo_switch(r).enabled)

    def interval_s(self, name: str) -> float:
        override = self.loop_switch(name).interval_s
        return override if override is not None else self._configs[name].interval_s

    def daily_budget_usd(self, name: str) -> float | None:
        override = self.loop_switch(name).daily_budget_usd
        config = self._configs.get(name)
        return override if override is not None else (config.daily_budget_usd if config else None)

    def mode(self, name: str) -> Literal["live", "shadow"]:
        override = self.loop_switch(name).mode
        return override if override is not None else self._configs[name].mode

    # ------------------------------------------------------------------ changing
    async def update_loop(
        self,
        name: str,
        *,
        actor: str,
        reason: str,
        enabled: bool | None = None,
        interval_s: float | None = None,
        mode: Literal["live", "shadow"] | None = None,
        daily_budget_usd: float | None = None,
        clear_budget: bool = False,
        drain: bool = False,
    ) -> SwitchEvent | None:
        """Change a loop's switch; ``None`` when nothing changed (idempotent, not audited)."""
        async with self._lock:
            before = self._validate_loop(
                name, enabled=enabled, interval_s=interval_s, reason=reason
            )
            if daily_budget_usd is not None and daily_budget_usd < 0:
                raise SwitchError("invalid", "daily_budget_usd must not be negative")
            # Compared with, and recorded as ``old``: the value in effect (the configured one
            # where there is no runtime override), so a change to it is a no-op, not audited.
            changes = diff(
                self._in_effect(name, before),
                enabled=enabled,
                interval_s=interval_s,
                mode=mode,
                budget=daily_budget_usd,
            )
            if clear_budget and before.daily_budget_usd is not None:
                # ``new: null``: the runtime cap is dropped, the configured one (if any) applies
                changes["daily_budget_usd"] = {"old": before.daily_budget_usd, "new": None}
            if not changes:
                return None
            action = (
                ("loop.enabled" if enabled else "loop.disabled")
                if "enabled" in changes
                else "loop.updated"
            )
            payload = {"loop": name, "changes": changes, "reason": reason, "drain": drain}
            return await self._commit(
                action,
                actor,
                payload,
                before,
                changes,
                target=name,
                drain=drain,
                store=self._state.loops.__setitem__,
            )

    def _in_effect(self, name: str, before: Switch) -> Switch:
        """``before`` with the values in effect where it has no override (a broken loop has no
        configuration: its overrides are all there is). Replay reads only ``new``."""
        config = self._configs.get(name)
        if config is None:
            return before
        return replace(
            before,
            interval_s=self.interval_s(name),
            mode=self.mode(name),
            daily_budget_usd=self.daily_budget_usd(name),
        )

    async def set_global(
        self, *, enabled: bool, actor: str, reason: str, drain: bool = False
    ) -> SwitchEvent | None:
        """Flip the global switch (the andon cord when ``enabled`` is false)."""
        _require_reason(reason)
        async with self._lock:
            before = self._state.global_
            if before.enabled == enabled:
                return None
            changes = {"enabled": {"old": before.enabled, "new": enabled}}
            action = "global.enabled" if enabled else "global.disabled"
            payload = {"changes": changes, "reason": reason, "drain": drain}
            return await self._commit(
                action,
                actor,
                payload,
                before,
                changes,
                target="*",
                drain=drain,
                store=self._store_global,
            )

    async def update_repo(
        self, name: str, *, enabled: bool, actor: str, reason: str
    ) -> SwitchEvent | None:
        """Switch a managed repository on or off for every loop (audited, persisted)."""
        if name not in self._repos:
            raise SwitchError("not_found", f"unknown repository {name!r}")
        _require_reason(reason)
        async with self._lock:
            before = self.repo_switch(name)
            if before.enabled == enabled:
                return None
            changes = {"enabled": {"old": before.enabled, "new": enabled}}
            action = "repo.enabled" if enabled else "repo.disabled"
            payload = {"repo": name, "changes": changes, "reason": reason}
            target = REPO_TARGET_PREFIX + name
            return await self._commit(
                action,
                actor,
                payload,
                before,
                changes,
                target=target,
                drain=False,
                store=self._store_repo,
            )

    async def _commit(
        self,
        action: str,
        actor: str,
        payload: dict[str, Any],
        before: Switch,
        changes: Mapping[str, Any],
        *,
        target: str,
        drain: bool,
        store: Callable[[str, Switch], None],
    ) -> SwitchEvent:
        """Record, apply, persist, announce: all of it or nothing. Shielded, because once the
        record is durable the change must take effect in full even if the caller is cancelled
        meanwhile (a budget switch-off made inside a tick that times out, say)."""
        with anyio.CancelScope(shield=True):
            record = await self._control.append(action, actor=actor, payload=payload)
            after = self._apply_changes(before, changes, actor, str(payload["reason"]), record)
            store(target, after)
            await self._persist(record)
            event = SwitchEvent(target, before, after, drain)
            self._announce(event)
        return event

    def _store_global(self, _target: str, switch: Switch) -> None:
        self._state.global_ = switch

    def _store_repo(self, target: str, switch: Switch) -> None:
        self._state.repos[target.removeprefix(REPO_TARGET_PREFIX)] = switch

    def _validate_loop(
        self, name: str, *, enabled: bool | None, interval_s: float | None, reason: str
    ) -> Switch:
        if name not in self._configs and name not in self._broken:
            raise SwitchError("not_found", f"unknown loop {name!r}")
        _require_reason(reason)
        if name in self._broken and (enabled or interval_s is not None):
            raise SwitchError("conflict", f"loop {name!r} is broken: {self._broken[name]}")
        config = self._configs.get(name)
        if enabled and config is not None and not config.enabled:
            raise SwitchError(
                "conflict",
                f"loop {name!r} is disabled in config ([loops.{name}] enabled = false); "
                "change the config and restart to enable it",
            )
        if interval_s is not None and config is not None:
            low, high = config.bounds
            if not low <= interval_s <= high:
                raise SwitchError(
                    "invalid",
                    f"interval_s {interval_s:g} is outside the bounds "
                    f"[{low:g}, {high:g}] of loop {name!r}",
                )
        return self.loop_switch(name)

    @staticmethod
    def _apply_changes(
        before: Switch, changes: Mapping[str, Any], actor: str, reason: str, record: object
    ) -> Switch:
        updates = {key: change["new"] for key, change in changes.items()}
        at = None
        if isinstance(record, Mapping):  # the durable record: its reason went through redaction
            at = record.get("ts")
            written = record.get("payload")
            if isinstance(written, Mapping) and isinstance(written.get("reason"), str):
                reason = written["reason"]
        return replace(before, actor=actor, reason=reason, at=at, **updates)

    def _apply_record(self, record: Mapping[str, Any]) -> None:
        payload = record.get("payload") or {}
        changes = payload.get("changes") or {}
        actor, reason = record.get("actor") or "unknown", payload.get("reason") or ""
        action = str(record.get("action", ""))
        if action.startswith("global."):
            self._state.global_ = self._apply_changes(
                self._state.global_, changes, actor, reason, record
            )
        elif action.startswith("repo."):
            name = payload.get("repo")
            if isinstance(name, str):
                before = self.repo_switch(name)
                self._state.repos[name] = self._apply_changes(
                    before, changes, actor, reason, record
                )
        else:
            name = payload.get("loop")
            if isinstance(name, str):
                before = self.loop_switch(name)
                self._state.loops[name] = self._apply_changes(
                    before, changes, actor, reason, record
                )
        self._state.control_seq = int(record.get("seq", self._state.control_seq))

    async def _persist(self, record: object) -> None:
        if isinstance(record, Mapping) and isinstance(record.get("seq"), int):
            self._state.control_seq = record["seq"]
        await self._write()

    async def _write(self) -> None:
        await store_json(self._path, encode(self._state), fatal=self._fatal)

    def _announce(self, event: SwitchEvent) -> SwitchEvent:
        for listener in self._listeners:
            listener(event)
        return event


def _require_reason(reason: str) -> None:
    if not reason or not reason.strip():
        raise SwitchError("invalid", "reason is required: say why you change the switch")
