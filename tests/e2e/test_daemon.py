"""The real daemon as a subprocess: start, toggle over HTTP, audit, restart, stop."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from hydra.audit import iter_records
from tests.e2e._support import wait_for
from tests.helpers.daemon import HYDRA, base_env, daemon, run_cli
from tests.helpers.faults import saboteur_env

pytestmark = pytest.mark.e2e


def records(data_dir: Path, stream: str, action: str | None = None) -> list[dict[str, object]]:
    return [
        r
        for r in iter_records(data_dir / "audit", stream)
        if action is None or r["action"] == action
    ]


def test_toggle_a_loop_over_http_and_the_switch_survives_a_restart(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        assert "#token=" in d.stdout()
        with d.client(actor="dashboard") as http:
            loops = http.get("/api/loops").json()["loops"]
            assert any(loop["name"] == "health" for loop in loops)
            response = http.put(
                "/api/loops/health", json={"enabled": False, "reason": "e2e toggle"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["enabled"] is False
        assert d.stop() == 0
    control = records(tmp_path / ".hydra", "control")
    disabled = [r for r in control if r["action"] == "loop.disabled"]
    assert disabled[0]["actor"] == "dashboard"
    assert disabled[0]["payload"]["reason"] == "e2e toggle"  # type: ignore[index]
    assert [r["action"] for r in control][-1] == "daemon.stopped"

    with daemon(tmp_path) as d2, d2.client() as http:
        health = http.get("/api/loops/health").json()
        assert health["enabled"] is False
        assert health["switch"]["reason"] == "e2e toggle"
        assert health["blocked_reason"].startswith("switched off by dashboard")
        assert d2.stop() == 0


def test_sigterm_stops_cleanly_and_second_daemon_is_refused(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        second = run_cli(
            ["run", "--port", "0", "--data-dir", str(d.data_dir)], cwd=tmp_path, timeout=20
        )
        assert second.returncode == 2
        assert "another hydra daemon is already running" in second.stderr
        assert second.stderr.count("\n") == 1
        assert d.stop(signal.SIGINT) == 0
    assert not (tmp_path / ".hydra" / "daemon.json").exists()
    actions = [r["action"] for r in records(tmp_path / ".hydra", "control")]
    assert actions[:1] == ["daemon.started"]
    assert actions[-1] == "daemon.stopped"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[loops.nope]\nenabled = true\n", "loops.nope: unknown loop"),
        ("[loops.health]\ninterval_s = 0.001\n", "loops.health.interval_s"),
        ("[api]\nport = 'x'\n", "api.port"),
        ("[loops.health]\ncolour = 'red'\n", "loops.health.colour: unknown key"),
    ],
)
def test_bad_config_stops_start_up_with_one_line_and_exit_2(
    tmp_path: Path, config: str, message: str
) -> None:
    (tmp_path / "hydra.toml").write_text(config)
    result = run_cli(["run", "--data-dir", str(tmp_path / "d")], cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_failed_fsync_stops_the_daemon(tmp_path: Path) -> None:
    env, marker = saboteur_env(tmp_path)
    with daemon(tmp_path, env=env) as d:
        marker.touch()
        with d.client() as http, contextlib.suppress(httpx.HTTPError):
            # The daemon may die before it answers.
            http.put("/api/loops/health", json={"enabled": False, "reason": "trigger an append"})
        code = d.proc.wait(timeout=20)
        assert code == 70
        fatal = [line for line in d.stderr().splitlines() if '"daemon.fatal"' in line]
        assert len(fatal) == 1, d.stderr()
        assert "Input/output error" in fatal[0] or "fsync" in fatal[0]
        assert "Traceback" not in d.stderr()


def test_started_from_a_subdirectory_the_daemon_uses_the_repository_settings(
    tmp_path: Path,
) -> None:
    """``hydra run`` finds hydra.toml and its data dir like every other command does."""
    repo = tmp_path / "app"
    deep = repo / "src" / "deep"
    deep.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "hydra.toml").write_text('data_dir = "state-here"\n')
    proc = subprocess.Popen(
        [HYDRA, "run", "--port", "0"],
        cwd=deep,
        env=base_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            (repo / "state-here" / "daemon.json").is_file,
            timeout=30,
            what="the daemon to start in the repository's data dir",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert not (deep / ".hydra").exists()
    assert not (deep / "state-here").exists()


def test_the_ready_line_shows_a_token_only_when_it_was_just_generated(tmp_path: Path) -> None:
    """stdout of a service is a log: a token already on disk, or one the operator configured,
    is not printed again (the line says where it is); a new one is shown once."""
    with daemon(tmp_path) as first:
        link = first.dashboard_link()
        assert link.endswith(f"#token={first.token}")
        assert "new token, stored in" in first.stdout()
        assert first.stop() == 0
    with daemon(tmp_path) as again:
        assert again.stop() == 0
    line = again.stdout()
    assert again.token not in line
    assert "#token=" not in line
    assert f"(token: {tmp_path / '.hydra' / 'api-token'})" in line
    configured = "an-operator-configured-token-1234567890"
    with daemon(tmp_path, env={"HYDRA_API_TOKEN": configured}) as mine:
        assert mine.stop() == 0
    assert configured not in mine.stdout()
    assert "(token: HYDRA_API_TOKEN or api_token in the config)" in mine.stdout()
