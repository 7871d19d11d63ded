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

HEADER = """\
# Loop catalogue

Generated from the loop registry by `python -m hydra.catalog`; do not edit by hand (a test
fails when this file drifts from the code). Every loop also writes the tick lifecycle records
(`{tick}`) and the health records (`health.degraded`, `health.recovered`) to its own
stream.
"""


def render(registry: LoopRegistry) -> str:
    parts = [HEADER.format(tick="`, `".join(TICK_ACTIONS))]
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
