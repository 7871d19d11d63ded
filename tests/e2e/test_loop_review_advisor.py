"""``review_advisor`` end to end: preflight opens two change requests through the daemon's
normal flow (the local world's branches), then the advisor reviews them. The scripted agent
approves everything it is shown.

In an ordinary repository a ``pyproject.toml`` bump is an ordinary (medium-risk) change: the
agent reviews it and it waits for a human. In Hydra's own repository (recognised by the
advisor's source at the base) the same bump touches the advisor's entry point and is vetoed,
without the agent even being asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e._support import ScriptedAgent, git, make_repo, running_hydra

pytestmark = pytest.mark.e2e

DOCS = "Fix the typo in the guide"
BUMP = "Bump the version"
VERDICT = {"verdict": "approve", "reasons": ["a one-line documentation fix"]}
RULES = [
    {
        "name": "review",
        "when": "You are Hydra's review advisor",
        "reply": "I read the diff; it is small and correct.\n\n```json\n"
        + json.dumps(VERDICT)
        + "\n```\nThat is my answer.",
    },
    {
        "name": "docs",
        "when": f"Title: {DOCS}",
        "write": {"docs/guide.md": "The guide\n"},
        "reply": "Fixed the typo.",
    },
    {
        "name": "bump",
        "when": f"Title: {BUMP}",
        "write": {"pyproject.toml": "[project]\nname = 'app'\nversion = '0.2.0'\n"},
        "reply": "Bumped the version to 0.2.0.",
    },
]
FILES = {
    "README.md": "# app\n",
    "docs/guide.md": "Teh guide\n",
    "pyproject.toml": "[project]\nname = 'app'\nversion = '0.1.0'\n",
}
HYDRA_FILES = {
    "README.md": "# hydra\n",
    "docs/guide.md": "Teh guide\n",
    "pyproject.toml": "[project]\nname = 'hydra-caretaker'\nversion = '0.1.0'\n",
    "src/loops/review_advisor.py": "class ReviewAdvisorLoop: ...\n",
    "src/hydra/sdk/__init__.py": "",
}
LOOPS = {
    "preflight": {"mode": "live", "interval_s": 86400, "max_parallel": 2},
    "review_advisor": {"mode": "live", "interval_s": 86400},
}
NOTES = "refs/notes/hydra-reviews"


def test_the_advisor_reviews_a_pyproject_bump_in_an_ordinary_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app", FILES)
    agent = ScriptedAgent.create(tmp_path, RULES)
    with running_hydra(tmp_path, repo=repo, agent=agent, loops=LOOPS) as h:
        h.cli("issue", "new", DOCS, "--label", "hitl-escalation", cwd=repo)
        h.cli("issue", "new", BUMP, "--label", "hitl-escalation", cwd=repo)
        h.tick("preflight")  # the start-up tick may have taken the first issue already
        assert len(h.records("preflight", "issue.resolved")) == 2
        docs, bump = "hydra/preflight/1-1", "hydra/preflight/2-1"
        heads = {b: git(repo, "rev-parse", b).strip() for b in (docs, bump)}

        end = h.tick("review_advisor")
        assert end["action"] == "tick.finished", end
        counts = end["payload"]["counts"]
        assert (counts["open"], counts["reviewed"], counts["guarded"]) == (2, 2, 0)
        verdicts = {
            r["payload"]["change"]: r["payload"]
            for r in h.records("review_advisor", "review.verdict", run=end["run"])
        }
        assert set(verdicts) == {docs, bump}

        ok = verdicts[docs]
        assert (ok["verdict"], ok["source"], ok["risk"]) == ("approve", "advisor", "trivial")
        assert ok["reasons"] == VERDICT["reasons"]
        assert ok["auto_approvable"] is True
        assert ok["posted"] == "approve"
        assert ok["head_sha"] == heads[docs]

        # Not Hydra's repository: its pyproject.toml is not the advisor's entry point.
        bumped = verdicts[bump]
        assert (bumped["verdict"], bumped["source"], bumped["risk"]) == (
            "approve",
            "advisor",
            "medium",
        )
        assert bumped["auto_approvable"] is False
        assert bumped["posted"] == "comment"  # medium risk waits for a human
        assert bumped["agent"]["status"] == "succeeded"

        # The agent reviewed both changes, each in a scratch worktree.
        runs = agent.runs("review")
        assert len(runs) == 2
        assert sorted(c for r in runs for c in (docs, bump) if c in r["prompt"]) == [docs, bump]
        assert all(Path(r["cwd"]).name.startswith("review-") for r in runs)

        # The reviews are stored as git notes on the reviewed heads.
        note = git(repo, "notes", "--ref", NOTES, "show", heads[docs])
        assert note.startswith("Hydra review: approve\n")
        assert "a one-line documentation fix" in note
        note = git(repo, "notes", "--ref", NOTES, "show", heads[bump])
        assert note.startswith("Hydra review: comment\n")
        reviews = {r["payload"]["change"]: r for r in h.records("changes", "review")}
        assert reviews[docs]["payload"]["verdict"] == "approve"
        assert reviews[bump]["payload"]["verdict"] == "comment"
        assert reviews[bump]["actor"] == "loop:review_advisor"

        costs = [r["payload"] for r in h.records("costs", "cost", run=end["run"])]
        sources = [c["source"] for c in costs if c["source"].startswith("agent.")]
        assert sources == ["agent.claude:review_advisor"] * 2

        # Once per head: the next tick reviews nothing again.
        again = h.tick("review_advisor")
        assert again["payload"]["counts"]["unchanged"] == 2
        assert again["payload"]["counts"]["reviewed"] == 0
        assert len(agent.runs("review")) == 2
        assert git(repo, "worktree", "list").count("\n") == 1  # probes and reviews are gone


def test_in_hydra_s_own_repository_a_change_to_its_own_files_is_vetoed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app", HYDRA_FILES)  # named as the daemon names it
    agent = ScriptedAgent.create(tmp_path, RULES)
    with running_hydra(tmp_path, repo=repo, agent=agent, loops=LOOPS) as h:
        h.cli("issue", "new", DOCS, "--label", "hitl-escalation", cwd=repo)
        h.cli("issue", "new", BUMP, "--label", "hitl-escalation", cwd=repo)
        h.tick("preflight")  # the start-up tick may have taken the first issue already
        assert len(h.records("preflight", "issue.resolved")) == 2
        docs, bump = "hydra/preflight/1-1", "hydra/preflight/2-1"
        heads = {b: git(repo, "rev-parse", b).strip() for b in (docs, bump)}

        end = h.tick("review_advisor")
        assert end["action"] == "tick.finished", end
        counts = end["payload"]["counts"]
        assert (counts["open"], counts["reviewed"], counts["guarded"]) == (2, 2, 1)
        verdicts = {
            r["payload"]["change"]: r["payload"]
            for r in h.records("review_advisor", "review.verdict", run=end["run"])
        }
        assert (verdicts[docs]["verdict"], verdicts[docs]["source"]) == ("approve", "advisor")

        guarded = verdicts[bump]
        assert (guarded["verdict"], guarded["source"], guarded["posted"]) == (
            "veto",
            "guard",
            "veto",
        )
        assert "review advisor's own files" in guarded["reasons"][0]
        assert "in app, Hydra's own repository" in guarded["reasons"][0]
        assert "pyproject.toml" in guarded["reasons"][0]
        assert "agent" not in guarded  # never asked: its approval could not have mattered

        # The agent reviewed exactly one change, the docs fix.
        [review] = agent.runs("review")
        assert docs in review["prompt"]
        assert bump not in review["prompt"]

        note = git(repo, "notes", "--ref", NOTES, "show", heads[bump])
        assert note.startswith("Hydra review: veto\n")
        assert "pyproject.toml" in note
        assert git(repo, "worktree", "list").count("\n") == 1  # the probe is gone
        assert "probe" not in git(repo, "branch", "--list")
