"""The switch-off benchmark runs (timing targets are the benchmark's job, not this test's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_switch_off_benchmark_quick() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.switch_off_kill", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "N=10 trials" in out
    for row in ("runner cancel, polite tree", "runner cancel, stubborn tree", "baseline killpg"):
        assert row in out
    assert "target: runner p99 <= 250 ms" in out
    assert "zombie children left: 0" in out
