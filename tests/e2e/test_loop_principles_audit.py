"""``principles_audit`` end to end: the real daemon audits a real git repository; a regression
that drops the licence and commits a key files one ``principles-stuck`` issue per failing rule
after three audits (never a duplicate), and the fix comments on and closes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e._support import Hydra, commit, make_repo, running_hydra

pytestmark = pytest.mark.e2e

# Built at run time so that no AWS-key-shaped literal sits in this repository's own files.
FAKE_KEY = "AKIA" + "Q7XT5ZK2M4N8P3LW"
HEALTHY = {
    "README.md": "# app\n",
    "LICENSE": "MIT License\n",
    "ruff.toml": "line-length = 100\n",
    ".github/workflows/ci.yml": "on: push\njobs: {}\n",
    "tests/test_app.py": "def test_app():\n    assert True\n",
    "src/settings.py": "REGION = 'eu-west-1'\n",
}
LOOPS = {"principles_audit": {"interval_s": 86400}}


def stuck(h: Hydra, repo: Path, state: str = "open") -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = h.cli_json(
        "issue", "list", "--label", "principles-stuck", "--state", state, cwd=repo
    )
    return issues


def audit(h: Hydra) -> dict[str, Any]:
    end = h.tick("principles_audit")
    assert end["action"] == "tick.finished", end
    payload: dict[str, Any] = end["payload"]
    return payload


def test_stuck_rules_get_one_issue_each_after_three_audits_and_the_fix_closes_them(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", HEALTHY)
    with running_hydra(tmp_path, repo=repo, agent=None, loops=LOOPS) as h:
        # The start-up audit found a healthy repository: onboarding went pending -> ready.
        [onboarded] = h.records("principles_audit", "onboarding.changed")
        assert (onboarded["payload"]["from"], onboarded["payload"]["to"]) == ("pending", "ready")

        # A regression lands on main: the licence goes, an AWS key comes in.
        commit(
            repo,
            "Regress",
            {"LICENSE": None, "src/settings.py": f"AWS_ACCESS_KEY_ID = '{FAKE_KEY}'\n"},
        )
        for number in (1, 2):
            result = audit(h)
            assert result["details"]["repos"]["app"]["status"] == "blocked"
            assert sorted(result["details"]["repos"]["app"]["failed"]) == ["license", "secrets"]
            assert result["counts"]["issues_filed"] == 0, f"filed after {number} audit(s)"
            assert stuck(h, repo) == []

        third = audit(h)
        report = third["details"]["repos"]["app"]
        assert report["status"] == "blocked"  # onboarding status, in the tick result
        assert report["blocking"] == ["secrets"]  # critical; the missing licence only warns
        assert third["counts"]["issues_filed"] == 2
        issues = stuck(h, repo)
        assert sorted(i["title"] for i in issues) == [
            "Principle `license` keeps failing in app",
            "Principle `secrets` keeps failing in app",
        ]
        by_rule = {i["title"].split("`")[1]: i for i in issues}
        assert "src/settings.py:1 (aws-access-key-id)" in by_rule["secrets"]["body"]
        assert FAKE_KEY not in by_rule["secrets"]["body"]  # paths, never the secret itself
        filed = h.records("principles_audit", "issue.filed")
        assert sorted(r["payload"]["rule"] for r in filed) == ["license", "secrets"]
        assert all(r["payload"]["consecutive_failures"] == 3 for r in filed)

        fourth = audit(h)
        assert fourth["counts"]["issues_filed"] == 0
        assert fourth["counts"]["issues_updated"] == 0
        assert [i["id"] for i in stuck(h, repo)] == [i["id"] for i in issues]  # no duplicate

        commit(
            repo, "Fix", {"LICENSE": "MIT License\n", "src/settings.py": "REGION = 'eu-west-1'\n"}
        )
        fixed = audit(h)
        assert fixed["counts"]["issues_closed"] == 2
        assert fixed["details"]["repos"]["app"]["status"] == "ready"
        assert stuck(h, repo) == []
        closed = stuck(h, repo, state="closed")
        assert sorted(i["id"] for i in closed) == sorted(i["id"] for i in issues)
        for issue in closed:
            shown = h.cli_json("issue", "show", issue["id"], cwd=repo)
            assert "passes again" in shown["comments"][-1]["body"]

        changes = [
            (r["payload"]["from"], r["payload"]["to"])
            for r in h.records("principles_audit", "onboarding.changed")
        ]
        assert changes == [("pending", "ready"), ("ready", "blocked"), ("blocked", "ready")]
        assert len(h.records("principles_audit", "issue.closed")) == 2
