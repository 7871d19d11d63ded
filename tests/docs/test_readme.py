"""The README's examples must stay true."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hydra.loop_config import resolve_loop_configs
from hydra.registry import LoopRegistry
from hydra.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_example_config_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("HYDRA_")]:
        monkeypatch.delenv(key)
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README has no toml example"
    (tmp_path / "hydra.toml").write_text(blocks[0])
    settings = load_settings(cwd=tmp_path)
    configs = resolve_loop_configs(settings.loops, LoopRegistry.discover())
    assert configs["preflight"].mode == "live"
    assert configs["preflight"].daily_budget_usd == 20


def test_the_two_setup_commands_are_there() -> None:
    text = README.read_text()
    assert "pip install -e . && .venv/bin/hydra run" in text
    assert "./scripts/test" in text
