"""The audit benchmarks still run (tiny versions; the figures are not checked here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.conftest import subprocess_env

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (
            "benchmarks.audit_append",
            ["## 1. single writer", "ratio at 16 writers", "CPU µs/append"],
        ),
        ("benchmarks.audit_query", ["records", "exact, rare"]),
    ],
)
def test_benchmark_quick_run(tmp_path: Path, module: str, expected: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--dir", str(tmp_path), "--allow-tmpfs"],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout
