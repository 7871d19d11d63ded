"""Where real tools are required, a missing Chromium fails the browser tests instead of
skipping them (a skipped browser suite in CI would pass unnoticed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import require_chromium


@pytest.fixture
def no_ci(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYDRA_REQUIRE_REAL_TOOLS", raising=False)
    return monkeypatch


def test_missing_chromium_skips_by_default(no_ci: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="HYDRA_REQUIRE_REAL_TOOLS=1 fail instead"):
        require_chromium(str(tmp_path / "chromium"))


@pytest.mark.parametrize(("name", "value"), [("HYDRA_REQUIRE_REAL_TOOLS", "1"), ("CI", "true")])
def test_missing_chromium_fails_where_real_tools_are_required(
    no_ci: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    no_ci.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match="no Chromium at"):
        require_chromium(str(tmp_path / "chromium"))


def test_a_present_chromium_passes(no_ci: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_ci.setenv("HYDRA_REQUIRE_REAL_TOOLS", "1")
    binary = tmp_path / "chromium"
    binary.write_text("")
    require_chromium(str(binary))
