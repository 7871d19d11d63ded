"""The loop catalogue (``docs/arch/loops.md``), generated from the registry.

Run ``python -m hydra.catalog > docs/arch/loops.md`` after changing a loop's metadata; a test
fails while the committed file differs from what the registry says.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

from hydra.registry import LoopEntry, LoopRegistry

TICK_ACTIONS = (
    "tick.started",
    "tick.finished",
    "tick.crashed",
    "tick.timed_out",
    "tick.cancelled",
    "tick.lost",
)

HEALTH_ACTIONS = ("health.degraded", "health.recovered")
REPO_ACTIONS = ("repo.cancelled",)
SHADOW_PREFIX = "would."
"""Shadow mode records each mutating port call as ``would.<action>`` (``would.comment``…)."""

RUNTIME_ACTIONS = (*TICK_ACTIONS, *HEALTH_ACTIONS, *REPO_ACTIONS)
"""Written to a loop's stream by the runtime, whatever the loop declares."""

HEADER = """\
# Loop catalogue

Generated from the loop registry by `python -m hydra.catalog`; do not edit by hand (a test
fails when this file drifts from the code). Besides the audit actions listed for it, the
runtime writes these records to every loop's stream, whatever the loop declares:

- the tick lifecycle: `{tick}`;
- health: `{health}`;
- `{repo}` when a repository's switch is turned off while a tick works on it;
- in shadow mode, `{shadow}<action>` for each mutating port call that was recorded instead of
  carried out (`{shadow}comment`, `{shadow}commit`, `{shadow}review`, `{shadow}agent_run`…).
"""


def allowed_actions(entry: LoopEntry) -> frozenset[str]:
    """Every action the catalogue says may appear in ``entry``'s stream, except the
    ``would.*`` records of shadow mode (test those with :data:`SHADOW_PREFIX`)."""
    return frozenset((*entry.loop_class.audit_actions, *RUNTIME_ACTIONS))


def render(registry: LoopRegistry) -> str:
    parts = [
        HEADER.format(
            tick="`, `".join(TICK_ACTIONS),
            health="`, `".join(HEALTH_ACTIONS),
            repo="`, `".join(REPO_ACTIONS),
            shadow=SHADOW_PREFIX,
        )
    ]
    rows = ["| loop | area | interval (bounds) | mode | description |", "|---|---|---|---|---|"]
    entries = [e for e in registry if e.cls is not None]
    for entry in entries:
        cls = entry.loop_class
        low, high = cls.interval_bounds
        rows.append(
            f"| [`{cls.name}`](#{cls.name}) | {cls.area} | {_num(cls.default_interval_s)} s "
            f"({_num(low)} to {_num(high)}) | {cls.default_mode} | {cls.description} |"
        )
    parts.append("\n".join(rows) + "\n")
    parts.extend(_section(entry) for entry in entries)
    return "\n".join(parts)


def _section(entry: LoopEntry) -> str:
    cls = entry.loop_class
    lines = [
        f"## {cls.name}",
        "",
        cls.description,
        "",
        f"- entry point: `{entry.source}`",
        f"- area: {cls.area}",
        f"- interval: {_num(cls.default_interval_s)} s, bounds {_num(cls.interval_bounds[0])} to "
        f"{_num(cls.interval_bounds[1])} s; tick timeout {_num(cls.default_timeout_s)} s",
        f"- default mode: {cls.default_mode}",
        f"- ports: {', '.join(f'`{p}`' for p in cls.ports) or 'none'}",
        f"- audit actions: {', '.join(f'`{a}`' for a in cls.audit_actions) or 'tick records only'}",
        "",
    ]
    options = _options(cls.Options)
    if options:
        lines += ["| option | type | default | description |", "|---|---|---|---|", *options, ""]
    else:
        lines += ["No options.", ""]
    return "\n".join(lines)


def _options(model: type[BaseModel]) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = getattr(field.annotation, "__name__", None) or str(field.annotation)
        annotation = annotation.replace("typing.", "")
        default: Any = field.get_default(call_default_factory=True)
        description = (field.description or "").replace("\n", " ")
        cells = (f"`{name}`", f"`{annotation}`", f"`{default!r}`", description)
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _cell(text: str) -> str:
    """Markdown table cells cannot hold a bare ``|`` (as in ``float | None``)."""
    return text.replace("|", "\\|")


def _num(value: float) -> str:
    return f"{value:g}"


def main() -> int:
    sys.stdout.write(render(LoopRegistry.discover()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
