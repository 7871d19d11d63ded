"""Shadow mode: a world whose mutating port calls are recorded instead of carried out.

Ports mark their mutating methods (:func:`ports.mutating`); this module wraps every port of a
:class:`ports.World` so that such a call appends a ``would.<action>`` record to the calling
loop's stream (with the tick's run id) and returns the mark's shadow value. Reads go through
unchanged. The runtime applies it to any loop whose mode is ``shadow``, third-party loops
included, without their cooperation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, cast

from hydra.sdk import AuditSink, current_tick
from ports import (
    AgentPort,
    ChangeRequestPort,
    IssuePort,
    RepoPorts,
    SandboxPort,
    WorkspacePort,
    World,
    mutation_of,
)

_TEXT_LIMIT = 2000


class ShadowPort:
    """Proxy of one port: reads pass through, mutations are recorded."""

    def __init__(
        self, inner: object, protocol: type, *, port: str, repo: str | None, sink: AuditSink
    ) -> None:
        self._inner = inner
        self._protocol = protocol
        self._port = port
        self._repo = repo
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        mark = mutation_of(getattr(self._protocol, name, None))
        if mark is None:
            return attr
        shadow = mark.shadow

        async def recorded(*args: Any, **kwargs: Any) -> Any:
            tick = current_tick()
            payload: dict[str, Any] = {"port": self._port, "method": name}
            if self._repo is not None:
                payload["repo"] = self._repo
            payload["args"] = [_summary(a) for a in args]
            payload["kwargs"] = {k: _summary(v) for k, v in kwargs.items()}
            await self._sink.append(
                f"would.{mark.action}",
                actor=f"loop:{tick.loop}" if tick else "daemon",
                payload=payload,
                run=tick.run_id if tick else None,
            )
            return shadow(*args, **kwargs) if shadow is not None else None

        return recorded


def _summary(value: Any) -> Any:
    """A JSON-friendly, bounded rendering of an argument for the audit record."""
    if isinstance(value, str):
        cut = len(value) - _TEXT_LIMIT
        return value if cut <= 0 else value[:_TEXT_LIMIT] + f"…[{cut} more characters]"
    if value is None or isinstance(value, bool | int | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _summary(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _summary(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_summary(v) for v in value]
    return _summary(str(value))


_REPO_PORTS: Mapping[str, type] = {
    "issues": IssuePort,
    "changes": ChangeRequestPort,
    "workspace": WorkspacePort,
    "sandbox": SandboxPort,
}


def shadow_world(world: World, sink: AuditSink) -> World:
    """``world`` with every mutating call recorded to ``sink`` instead of carried out."""

    def wrap(inner: object, protocol: type, port: str, repo: str | None) -> Any:
        return ShadowPort(inner, protocol, port=port, repo=repo, sink=sink)

    repos = {
        name: RepoPorts(
            name=name,
            **{
                port: wrap(getattr(ports, port), protocol, port, name)
                for port, protocol in _REPO_PORTS.items()
            },
        )
        for name, ports in world.repos.items()
    }
    return dataclasses.replace(
        world,
        agent=cast("AgentPort", wrap(world.agent, AgentPort, "agent", None)),
        repos=repos,
    )


def world_chooser(world: World) -> Callable[[str, str, AuditSink], World]:
    """The orchestrator's ``world_for``: the live world, or a per-loop shadow of it."""
    shadows: dict[str, World] = {}

    def choose(loop: str, mode: str, sink: AuditSink) -> World:
        if mode != "shadow":
            return world
        if loop not in shadows:
            shadows[loop] = shadow_world(world, sink)
        return shadows[loop]

    return choose
