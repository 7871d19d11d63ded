"""The real daemon facing a failed fsync of its local issue inbox: a loop filing an issue in
the middle of a tick stops the daemon exactly like a failed audit or state-file fsync (exit 70,
one ``daemon.fatal`` line), although the loop's crash isolation catches the error itself.
And ``hydra issue`` (no daemon) meeting the same failure exits non-zero with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e._support import REPO_NAME, Hydra, commit, make_repo, write_config
from tests.helpers.daemon import daemon, run_cli
from tests.helpers.faults import saboteur_env

pytestmark = pytest.mark.e2e

HEALTHY = {
    "README.md": "# app\n",
    "LICENSE": "MIT License\n",
    "ruff.toml": "line-length = 100\n",
    ".github/workflows/ci.yml": "on: push\njobs: {}\n",
    "tests/test_app.py": "def test_app():\n    assert True\n",
}
# One failing audit is enough to file a ``principles-stuck`` issue into the inbox.
LOOPS = {"principles_audit": {"interval_s": 86400, "stuck_after": 1}}


def test_a_failed_inbox_fsync_during_a_tick_stops_the_daemon_with_one_line(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", HEALTHY)
    write_config(tmp_path, repo=repo, agent=None, loops=LOOPS)
    data = tmp_path / "data"
    inbox = data / "inbox" / REPO_NAME
    env, marker = saboteur_env(tmp_path, pattern=str(inbox))
    with daemon(tmp_path, data_dir=data, env=env) as d:
        h = Hydra(d, tmp_path, tuple(LOOPS))
        try:
            h.wait_idle("principles_audit", ticks_at_least=1)  # healthy: nothing filed
            commit(repo, "Drop the licence", {"LICENSE": None})
            marker.touch()
            response = h.http.post("/api/loops/principles_audit/trigger")
            assert response.status_code == 202, response.text
        finally:
            h.http.close()
        code = d.proc.wait(timeout=20)
        stderr = d.stderr()
    assert code == 70, stderr
    fatal = [json.loads(line) for line in stderr.splitlines() if '"daemon.fatal"' in line]
    assert len(fatal) == 1, stderr
    assert fatal[0]["level"] == "critical"
    assert str(inbox) in fatal[0]["error"]
    assert "Input/output error" in fatal[0]["error"]
    assert "Traceback" not in stderr
    assert not (data / "daemon.json").exists()
    assert list(inbox.glob("*.json")) == []  # the issue was never made durable, so never renamed


def test_hydra_issue_on_a_failed_fsync_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env, marker = saboteur_env(tmp_path, pattern=str(data / "inbox"))
    marker.touch()
    done = run_cli(
        ["issue", "new", "Disk trouble", "--repo", "app", "--data-dir", str(data)],
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("hydra: ")
    assert "cannot make" in lines[0]
    assert "Input/output error" in lines[0]
    assert list((data / "inbox" / "app").glob("*.json")) == []
