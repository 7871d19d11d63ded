from __future__ import annotations

from pathlib import Path

import pytest

from hydra.loop_config import resolve_loop_configs
from hydra.registry import LoopRegistry
from hydra.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HYDRA_"):
            monkeypatch.delenv(key)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hydra.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path)
    assert settings.data_dir == tmp_path / ".hydra"
    assert settings.world == "local"
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8765)


def test_file_in_cwd_is_read_and_env_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, '[api]\nport = 9000\nhost = "127.0.0.1"\n[loops.health]\ninterval_s = 30\n')
    monkeypatch.setenv("HYDRA_API__PORT", "9100")
    monkeypatch.setenv("HYDRA_LOOPS__HEALTH__ENABLED", "false")
    settings = load_settings(cwd=tmp_path)
    assert settings.api.port == 9100
    assert settings.loops["health"] == {"interval_s": 30, "enabled": "false"}
    config = resolve_loop_configs(settings.loops, LoopRegistry.discover())["health"]
    assert config.enabled is False
    assert config.interval_s == 30


def test_overrides_beat_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYDRA_API__PORT", "9100")
    settings = load_settings(cwd=tmp_path, api={"port": 9200})
    assert settings.api.port == 9200
    assert settings.api.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[api]\nprot = 1\n", {}, "api.prot: unknown key"),
        ("bogus = 1\n", {}, "bogus: unknown key"),
        ("", {"HYDRA_API__PORT": "abc"}, "api.port: Input should be a valid integer"),
        ("[api]\nport = 70000\n", {}, "api.port"),
        ("[loops]\nhealth = 3\n", {}, "must be a table"),
        ("[api\n", {}, "invalid TOML"),
    ],
)
def test_bad_settings_give_one_line_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str], message: str
) -> None:
    _write(tmp_path, text)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as info:
        load_settings(cwd=tmp_path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"nope": {}}, "loops.nope: unknown loop (known loops: "),
        (
            {"health": {"interval_s": 0.5}},
            "loops.health.interval_s: 0.5 s is outside the bounds [1, 86400]",
        ),
        ({"health": {"colour": "red"}}, "loops.health.colour: unknown key"),
        (
            {"health": {"rss_ceiling_mb": "lots"}},
            "loops.health.rss_ceiling_mb: Input should be a valid number",
        ),
        ({"health": {"enabled": "perhaps"}}, "loops.health.enabled"),
        ({"health": {"mode": "loud"}}, "loops.health.mode"),
    ],
)
def test_loop_tables_are_validated_against_the_loop(
    table: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_loop_configs(table, LoopRegistry.discover())
    assert message in str(info.value)


def test_loop_options_reach_the_loop_config() -> None:
    configs = resolve_loop_configs(
        {"health": {"rss_ceiling_mb": 256, "timeout_s": 5}}, LoopRegistry.discover()
    )
    health = configs["health"]
    assert health.options.rss_ceiling_mb == 256  # type: ignore[attr-defined]
    assert health.timeout_s == 5
    assert health.interval_s == 60.0
    assert health.mode == "live"
    assert health.bounds == (1.0, 86400.0)
