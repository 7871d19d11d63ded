"""``review_advisor`` end to end: preflight opens two change requests through the daemon's
normal flow (the local world's branches), then the advisor reviews them. The scripted agent
approves everything it is shown; the change to one of the advisor's own files (``pyproject.toml``,
its entry point) is vetoed all the same, without the agent even being asked."""

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
LOOPS = {
    "preflight": {"mode": "live", "interval_s": 86400, "max_parallel": 2},
    "review_advisor": {"mode": "live", "interval_s": 86400},
}
NOTES = "refs/notes/hydra-reviews"


def test_the_advisor_approves_a_docs_fix_and_vetoes_a_change_to_its_own_files(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", FILES)
    agent = ScriptedAgent.create(tmp_path, RULES)
    with running_hydra(tmp_path, repo=repo, agent=agent, loops=LOOPS) as h:
        h.cli("issue", "new", DOCS, "--label", "hitl-escalation", cwd=repo)
        h.cli("issue", "new", BUMP, "--label", "hitl-escalation", cwd=repo)
        assert h.tick("preflight")["payload"]["counts"]["resolved"] == 2
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
        assert set(verdicts) == {docs, bump}

        ok = verdicts[docs]
        assert (ok["verdict"], ok["source"], ok["risk"]) == ("approve", "advisor", "trivial")
        assert ok["reasons"] == VERDICT["reasons"]
        assert ok["auto_approvable"] is True
        assert ok["posted"] == "approve"
        assert ok["head_sha"] == heads[docs]

        guarded = verdicts[bump]
        assert (guarded["verdict"], guarded["source"], guarded["posted"]) == (
            "veto",
            "guard",
            "veto",
        )
        assert "review advisor's own files" in guarded["reasons"][0]
        assert "pyproject.toml" in guarded["reasons"][0]
        assert "agent" not in guarded  # never asked: its approval could not have mattered

        # The agent reviewed exactly one change, the docs fix.
        [review] = agent.runs("review")
        assert docs in review["prompt"]
        assert bump not in review["prompt"]
        assert Path(review["cwd"]).name.startswith("review-")

        # The reviews are stored as git notes on the reviewed heads.
        note = git(repo, "notes", "--ref", NOTES, "show", heads[docs])
        assert note.startswith("Hydra review: approve\n")
        assert "a one-line documentation fix" in note
        note = git(repo, "notes", "--ref", NOTES, "show", heads[bump])
        assert note.startswith("Hydra review: veto\n")
        assert "pyproject.toml" in note
        reviews = {r["payload"]["change"]: r for r in h.records("changes", "review")}
        assert reviews[docs]["payload"]["verdict"] == "approve"
        assert reviews[bump]["payload"]["verdict"] == "veto"
        assert reviews[bump]["actor"] == "loop:review_advisor"

        costs = [r["payload"] for r in h.records("costs", "cost", run=end["run"])]
        sources = [c["source"] for c in costs if c["source"].startswith("agent.")]
        assert sources == ["agent.claude:review_advisor"]

        # Once per head: the next tick reviews nothing again.
        again = h.tick("review_advisor")
        assert again["payload"]["counts"]["unchanged"] == 2
        assert again["payload"]["counts"]["reviewed"] == 0
        assert len(agent.runs("review")) == 1
