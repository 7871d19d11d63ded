"""The API token file: generated once, atomically, owner-only; an empty left-over is replaced."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hydra.settings import HydraSettings
from hydra.token import ensure_token, read_token, token_path


@pytest.fixture(autouse=True)
def _no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYDRA_API_TOKEN", raising=False)


def _settings(tmp_path: Path) -> HydraSettings:
    return HydraSettings(data_dir=tmp_path / "data")


def test_a_token_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    data = tmp_path / "data"
    token, generated = ensure_token(settings, data)
    assert generated
    assert len(token) >= 40
    assert token_path(data).read_text() == token + "\n"
    assert stat.S_IMODE(token_path(data).stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir()] == ["api-token"]  # no temp file left behind
    assert ensure_token(settings, data) == (token, False)
    assert read_token(data) == token


def test_an_empty_token_file_left_by_a_crash_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    token_path(data).write_text("")
    token, generated = ensure_token(_settings(tmp_path), data)
    assert generated
    assert token_path(data).read_text() == token + "\n"
    assert stat.S_IMODE(token_path(data).stat().st_mode) == 0o600


def test_a_token_readable_by_others_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    token_path(data).write_text("kept-as-is\n")
    token_path(data).chmod(0o644)
    assert ensure_token(_settings(tmp_path), data) == ("kept-as-is", False)
    assert stat.S_IMODE(token_path(data).stat().st_mode) == 0o600


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_env_token_means_unset_and_one_is_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    monkeypatch.setenv("HYDRA_API_TOKEN", blank)
    settings = HydraSettings(data_dir=tmp_path / "data")
    assert settings.api_token is None
    token, generated = ensure_token(settings, tmp_path / "data")
    assert generated
    assert len(token) >= 40
    assert read_token(tmp_path / "data") == token  # the CLI finds the same one


def test_an_env_token_is_used_as_given_without_surrounding_blanks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRA_API_TOKEN", "  s3cret-token \n")
    settings = HydraSettings(data_dir=tmp_path / "data")
    assert ensure_token(settings, tmp_path / "data") == ("s3cret-token", False)
    assert read_token(tmp_path / "data") == "s3cret-token"
    assert not (tmp_path / "data").exists()  # nothing generated


def test_a_stale_temp_of_the_same_pid_does_not_block_the_write(tmp_path: Path) -> None:
    from hydra.statefile import temp_path

    data = tmp_path / "data"
    data.mkdir()
    stale = temp_path(token_path(data))
    stale.write_text("half-written")
    stale.chmod(0o644)
    token, generated = ensure_token(_settings(tmp_path), data)
    assert generated
    assert token_path(data).read_text() == token + "\n"
    assert stat.S_IMODE(token_path(data).stat().st_mode) == 0o600
    assert not stale.exists()
