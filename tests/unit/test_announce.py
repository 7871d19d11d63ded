"""The ready line: the token only when just generated, or the stored one at a terminal."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from hydra.settings import HydraSettings
from hydra.startup import announce

URL = "http://127.0.0.1:8765/"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "case",
    [
        (True, False, False, True),  # first start: the one chance to see it
        (False, False, True, True),  # the stored token, at a terminal
        (False, False, False, False),  # the stored token, stdout is a log
        (False, True, True, False),  # a configured token is the operator's already
        (False, True, False, False),
    ],
)
def test_the_ready_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[bool, bool, bool, bool]
) -> None:
    generated, configured, terminal, shows_token = case
    token = "t" * 43
    settings = HydraSettings(
        data_dir=tmp_path / "data", api_token=SecretStr(token) if configured else None
    )
    out = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    announce(URL, token, generated=generated, settings=settings)
    line = out.getvalue()
    assert line.startswith(f"Hydra is running. Dashboard: {URL}")
    assert (token in line) is shows_token
    if not shows_token:
        where = "HYDRA_API_TOKEN" if configured else str(tmp_path / "data" / "api-token")
        assert f"(token: {where}" in line
