"""The scheduler benchmark still runs, with its contract floor (the figures are not checked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.audit.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[2]


def test_scheduler_benchmark_quick_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/scheduler.py", "--quick", "--dir", str(tmp_path / "run")],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for text in ("loops: 50 at 1 s", "bare sleeping tasks", "contract floor", "hydra/floor", "p99"):
        assert text in out, out
    rates = re.search(
        r"contract floor [\d.]+% \((\d+) ticks/s\)   hydra [\d.]+% \((\d+) ticks/s", out
    )
    assert rates is not None, out
    assert int(rates[1]) >= 30  # 50 loops at 1 s: both really ticked
    assert int(rates[2]) >= 30
    assert not (tmp_path / "run").exists()  # the work dir is cleaned up
