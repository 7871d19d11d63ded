from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hydra.loop_config import resolve_loop_configs
from hydra.registry import LoopRegistry
from hydra.settings import EnvText, SettingsError, load_settings

HYDRA = shutil.which("hydra", path=str(Path(sys.executable).parent)) or "hydra"


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


def _from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    """The loop configs the real loader gives for ``env`` (variable name → text)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(cwd=tmp_path)
    return dict(resolve_loop_configs(settings.loops, LoopRegistry.discover()))


def test_a_tuple_option_is_json_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _from_env(monkeypatch, tmp_path, HYDRA_LOOPS__PREFLIGHT__DENY_LABELS='["a", "b"]')
    assert configs["preflight"].options.deny_labels == ("a", "b")


def test_a_list_of_tables_is_json_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = [
        {"name": "unit", "command": "pytest -q"},
        {"name": "hidden", "command": "make check", "holdout": True, "expected_exit": 1},
    ]
    configs = _from_env(
        monkeypatch, tmp_path, HYDRA_LOOPS__SANDBOX_FIXER__SCENARIOS=json.dumps(scenarios)
    )
    got = configs["sandbox_fixer"].options.scenarios
    assert [(s.name, s.command, s.holdout, s.expected_exit) for s in got] == [
        ("unit", "pytest -q", False, 0),
        ("hidden", "make check", True, 1),
    ]


def test_a_table_option_is_json_in_the_environment_and_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, '[loops.review_advisor.path_risk]\n"src/**" = "high"\n')
    configs = _from_env(
        monkeypatch,
        tmp_path,
        HYDRA_LOOPS__REVIEW_ADVISOR__PATH_RISK='{"docs/**": "trivial", "infra/**": "critical"}',
        HYDRA_LOOPS__REVIEW_ADVISOR__AUTO_MERGE="true",
    )
    options = configs["review_advisor"].options
    assert options.path_risk == {"docs/**": "trivial", "infra/**": "critical"}
    assert options.auto_merge is True


def test_plain_text_options_are_not_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _from_env(
        monkeypatch,
        tmp_path,
        HYDRA_LOOPS__PREFLIGHT__TRIGGER_LABEL="[ci]",
        HYDRA_LOOPS__PRINCIPLES_AUDIT__TEST_COMMAND="[ -f x ]",
        HYDRA_LOOPS__PREFLIGHT__MAX_USD="2.5",
    )
    assert configs["preflight"].options.trigger_label == "[ci]"
    assert configs["preflight"].options.max_usd == 2.5
    assert configs["principles_audit"].options.test_command == "[ -f x ]"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS",
            "a,b",
            "loops.preflight.deny_labels: HYDRA_LOOPS__PREFLIGHT__DENY_LABELS is not valid JSON",
        ),
        (
            "hydra_loops__review_advisor__path_risk",
            "{docs: low}",
            "loops.review_advisor.path_risk: hydra_loops__review_advisor__path_risk is not valid",
        ),
        (
            "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS",
            "[1]",
            "loops.preflight.deny_labels.0: Input should be a valid string",
        ),
    ],
)
def test_bad_json_in_the_environment_is_one_line_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        _from_env(monkeypatch, tmp_path, **{variable: value})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_string_in_the_file_is_not_taken_for_json(tmp_path: Path) -> None:
    _write(tmp_path, "[loops.preflight]\ndeny_labels = '[\"a\"]'\n")
    settings = load_settings(cwd=tmp_path)
    with pytest.raises(SettingsError, match=r"loops\.preflight\.deny_labels: Input should be"):
        resolve_loop_configs(settings.loops, LoopRegistry.discover())


def test_env_text_survives_copies() -> None:
    text = EnvText('["a"]', "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS")
    for clone in (copy.deepcopy(text), pickle.loads(pickle.dumps(text))):  # noqa: S301
        assert (clone, clone.variable) == ('["a"]', "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS")


def test_hydra_run_exits_2_with_one_line_on_bad_json(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")},
        "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS": "a,b",
    }
    done = subprocess.run(
        [HYDRA, "run", "--data-dir", str(tmp_path / "d"), "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "HYDRA_LOOPS__PREFLIGHT__DENY_LABELS is not valid JSON" in lines[0]


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_env_token_leaves_the_files_token_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    _write(tmp_path, 'api_token = "from-the-file"\n')
    monkeypatch.setenv("HYDRA_API_TOKEN", blank)
    settings = load_settings(cwd=tmp_path)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "from-the-file"


def test_a_blank_token_in_the_file_counts_as_unset(tmp_path: Path) -> None:
    _write(tmp_path, 'api_token = "   "\n')
    assert load_settings(cwd=tmp_path).api_token is None


def test_a_bad_value_is_an_error_even_where_a_flag_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, '[api]\nport = "x"\n')
    with pytest.raises(SettingsError, match=r"api\.port"):
        load_settings(cwd=tmp_path, api={"port": 9100})
    _write(tmp_path, "")
    monkeypatch.setenv("HYDRA_API__PORT", "x")
    with pytest.raises(SettingsError, match=r"api\.port"):
        load_settings(cwd=tmp_path, api={"port": 9100})
    monkeypatch.setenv("HYDRA_API__PORT", "9000")
    assert load_settings(cwd=tmp_path, api={"port": 9100}).api.port == 9100
