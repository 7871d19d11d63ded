"""Third-party loop plugins made on the fly: a module plus a ``*.dist-info`` with entry points.

Putting the returned directory on ``sys.path`` (or ``PYTHONPATH`` for a daemon subprocess)
makes ``importlib.metadata`` discover the plugin exactly as it discovers an installed one.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_plugin(
    root: Path,
    *,
    dist: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
    group: str = "hydra.loops",
) -> Path:
    """Write ``modules`` (name -> source) and a dist-info declaring ``entry_points``."""
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


LOOP_TEMPLATE = """
from __future__ import annotations

from hydra.sdk import Loop, TickResult


class {cls}(Loop):
    name = "{name}"
    description = "{description}"
    area = "testing"
    default_interval_s = {interval}
    interval_bounds = ({low}, {high})

    async def tick(self, ctx):
        return TickResult(status="ok")
"""


def loop_source(
    cls: str,
    name: str,
    *,
    description: str = "A test loop.",
    interval: float = 1.0,
    low: float = 0.01,
    high: float = 3600.0,
) -> str:
    return LOOP_TEMPLATE.format(
        cls=cls, name=name, description=description, interval=interval, low=low, high=high
    )
