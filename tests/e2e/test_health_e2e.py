"""``hydra run`` with no config file in a fresh git repository and no agent CLI reachable.

The daemon must build the ``local`` world on that repository, and the ``health`` loop's report
(its ``tick.finished`` record, read from the file and over the API) must list the agent port as
``unconfigured`` and every other port as configured.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import pytest

from tests.cli._support import wait_for_record
from tests.helpers.daemon import daemon

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

REPO = "fresh-repo"
REPO_PORTS = ("issues", "changes", "workspace", "sandbox")


def _tools_only_path(tmp_path: Path) -> str:
    """A PATH holding ``git`` and ``sh`` (the local world's tools) and no agent CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sh"):
        found = shutil.which(tool)
        assert found is not None, f"{tool} is needed for this test"
        (bin_dir / tool).symlink_to(found)
    assert shutil.which("claude", path=str(bin_dir)) is None
    assert shutil.which("codex", path=str(bin_dir)) is None
    return str(bin_dir)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh git repository (no commits, no ``hydra.toml``)."""
    path = tmp_path / REPO
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


async def test_default_daemon_reports_the_agent_port_unconfigured(
    tmp_path: Path, repo: Path
) -> None:
    assert not (repo / "hydra.toml").exists()
    env = {"PATH": _tools_only_path(tmp_path), "HOME": str(tmp_path)}

    with daemon(repo, env=env) as d:
        assert d.data_dir == repo / ".hydra"
        with d.client(actor="cli") as http:
            assert http.post("/api/loops/health/trigger").status_code == 202
            with anyio.fail_after(20):
                record = await wait_for_record(
                    d.data_dir / "audit", "health", lambda r: r["action"] == "tick.finished"
                )
            payload = record["payload"]
            assert isinstance(payload, dict)
            expected = {
                "agent": "unconfigured",
                "host": "configured",
                **{f"{REPO}/{port}": "configured" for port in REPO_PORTS},
            }
            assert payload["details"]["ports"] == expected
            assert payload["details"]["unconfigured_ports"] == ["agent"]
            assert payload["counts"]["ports_unconfigured"] == 1
            assert payload["status"] in ("ok", "warning")

            # The same report over HTTP: the loop's last tick, and the record itself.
            # The record is durable before the loop's in-memory status moves on: poll for it.
            with anyio.fail_after(10):
                while (health := http.get("/api/loops/health").json())["last"] is None:  # noqa: ASYNC110 - observing another process
                    await anyio.sleep(0.02)
            assert health["last"]["status"] in ("ok", "warning")
            assert health["last"]["counts"]["ports_unconfigured"] == 1
            page = http.get(
                "/api/audit/health", params={"action": "tick.finished", "limit": 1}
            ).json()
            [newest] = page["records"]
            assert newest["payload"]["details"]["ports"] == expected

            # The local world acts on the repository it was started in.
            repos = http.get("/api/repos").json()
        assert d.stop() == 0
    assert '"world": "local"' in d.stderr()
    assert [r["name"] for r in repos["repos"]] == [REPO]
