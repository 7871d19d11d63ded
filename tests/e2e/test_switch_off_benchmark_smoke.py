"""``benchmarks/switch_off.py`` still runs end to end (``--quick``; the figures are not checked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_switch_off_benchmark_quick_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")) if p
    )
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.switch_off", "--quick", "--dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    for text in (
        "N=5 trials per tree",
        "polite: group gone (killpg -> ESRCH)",
        "stubborn: tick.cancelled in the stream",
        "stubborn: switch-off",
        "baseline: killpg(SIGKILL) + waitpid",
        "target: switch-off p99 <= 250 ms",
        "daemon exit code: 0; zombie children left: 0",
    ):
        assert text in result.stdout, result.stdout
    assert list(tmp_path.iterdir()) == []  # the run cleaned up after itself
