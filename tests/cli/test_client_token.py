"""The CLI picks the API token the way the daemon does; a blank value counts as unset."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from hydra.cli._client import client_for


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith("HYDRA_"):
            monkeypatch.delenv(key)
    data = tmp_path / ".hydra"
    data.mkdir()
    info = {"pid": os.getpid(), "url": "http://127.0.0.1:8765/", "started_at": "2026"}
    (data / "daemon.json").write_text(json.dumps(info))
    (data / "api-token").write_text("generated-token\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _args(base: Path) -> argparse.Namespace:
    return argparse.Namespace(config=None, data_dir=str(base / ".hydra"))


@pytest.mark.parametrize(
    ("env", "in_file", "expected"),
    [
        (None, None, "generated-token"),
        ("from-env", "from-file", "from-env"),
        (None, "from-file", "from-file"),
        ("", "from-file", "from-file"),  # HYDRA_API_TOKEN= is unset, as for the daemon
        ("  ", "from-file", "from-file"),
        ("", None, "generated-token"),
        (None, "  ", "generated-token"),  # a blank api_token in the file too
    ],
)
def test_the_token_is_chosen_as_the_daemon_chooses_it(
    base: Path, monkeypatch: pytest.MonkeyPatch, env: str | None, in_file: str | None, expected: str
) -> None:
    if env is not None:
        monkeypatch.setenv("HYDRA_API_TOKEN", env)
    if in_file is not None:
        (base / "hydra.toml").write_text(f'api_token = "{in_file}"\n')
    assert client_for(_args(base)).token == expected
