"""``sandbox_fixer`` end to end: a regression on main breaks a visible and a holdout scenario;
one triggered tick sends the scripted agent (which fails loudly if it can see the holdout's
files, and tries to dig them out of git), judges its commit again and opens a change request
for the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e._support import commit, git, make_repo, running_hydra
from tests.e2e._support_probe import probes, probing_agent

pytestmark = pytest.mark.e2e

UNIT = """\
value=$(cat app.txt)
if [ "$value" != good ]; then echo "app.txt says '$value', expected 'good'"; exit 1; fi
"""
HOLDOUT = 'grep -qx good app.txt || { echo "secret acceptance check failed"; exit 3; }\n'
FILES = {
    "README.md": "# app\n",
    "app.txt": "good\n",
    "scenarios/unit.sh": UNIT,
    "acceptance/check.sh": HOLDOUT,
}
SCENARIOS = [
    {"name": "unit", "command": "sh scenarios/unit.sh", "files": ["scenarios/unit.sh"]},
    {
        "name": "acceptance",
        "command": "sh acceptance/check.sh",
        "holdout": True,
        "files": ["acceptance"],
    },
]
GIT_PROBES = [
    "git log --all -p",
    "git cat-file --batch-all-objects --batch",
    "git rev-list --all --objects",
    "git fsck --lost-found --unreachable",
    "git show main:acceptance/check.sh",
    "git fetch ../../../../app main",  # the operator's repository, by its path
    "git push --no-verify ../../../../app HEAD:refs/heads/smuggled",
]


def rules(base: str = "main") -> list[dict[str, object]]:
    digging = [f"git show {base}:acceptance/check.sh", f"git cat-file -p {base}:acceptance"]
    return [
        {
            "name": "fixer",
            "when": "Behavioural scenarios judge this repository",
            "require_absent": ["acceptance", "acceptance/check.sh"],
            "run": [*GIT_PROBES, *digging, "git remote -v", "git rev-parse --git-common-dir"],
            "write": {"app.txt": "good\n"},
            "reply": "app.txt holds 'good' again.",
        }
    ]


LOOPS = {"sandbox_fixer": {"mode": "live", "interval_s": 86400, "scenarios": SCENARIOS}}


def test_a_regression_is_fixed_by_the_agent_without_seeing_the_holdout_and_proposed(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", FILES)
    agent = probing_agent(tmp_path, rules())
    with running_hydra(tmp_path, repo=repo, agent=agent, loops=LOOPS) as h:
        # Start-up tick: both scenarios pass, nothing to do.
        [first_score] = h.records("sandbox_fixer", "score.recorded")
        assert first_score["payload"]["score"] == 1.0
        assert agent.runs() == []

        broken = commit(repo, "Regress app.txt", {"app.txt": "bad\n"})
        agent.set_rules(rules(broken))
        end = h.tick("sandbox_fixer")
        assert end["action"] == "tick.finished", end
        assert end["payload"]["details"]["repos"]["app"]["outcome"] == "fixed"
        run = end["run"]

        # The score before and after the attempt, with the holdout judged but named only here.
        scores = [r["payload"] for r in h.records("sandbox_fixer", "score.recorded", run=run)]
        assert [(s["attempt"], s["score"]) for s in scores] == [(None, 0.0), (1, 1.0)]
        assert scores[0]["failing"] == ["unit"]
        assert scores[0]["holdouts_failing"] == ["acceptance"]

        # The agent ran once, in a checkout without the holdout's files, never told about it.
        [call] = agent.runs("fixer")
        assert call["present"] == []
        assert Path(call["cwd"]).name.startswith("sandbox-fixer-")
        prompt = call["prompt"]
        assert "sh scenarios/unit.sh" in prompt
        assert "app.txt says 'bad', expected 'good'" in prompt  # visible feedback
        assert "1 hidden scenario(s)" in prompt
        assert "acceptance" not in prompt
        assert "secret acceptance check" not in prompt

        # Nothing git in its workdir can show reaches the holdout: not the base commit's tree,
        # not the object store, not the operator's repository (no transport at all).
        ran = probes(agent, "fixer")
        assert len(ran) == len(GIT_PROBES) + 4
        for probe in ran:
            assert "secret acceptance check" not in probe["out"], probe
            assert "check.sh" not in probe["out"].replace("acceptance/check.sh'", ""), probe
        outcome = {p["ran"]: p for p in ran}
        assert outcome["git remote -v"]["out"] == ""
        assert outcome["git rev-parse --git-common-dir"]["out"].strip() == ".git"
        for refused in GIT_PROBES[-2:]:
            assert outcome[refused]["code"] != 0
            assert "not allowed" in outcome[refused]["out"]
        assert "smuggled" not in git(repo, "branch", "--list")

        [finished] = h.records("sandbox_fixer", "attempt.finished", run=run)
        assert finished["payload"]["outcome"] == "fixed"
        assert finished["payload"]["counted"] is True

        # The change request: a branch with the fix (and only the fix) on top of main.
        [opened] = h.records("sandbox_fixer", "change.opened", run=run)
        branch = opened["payload"]["branch"]
        assert branch == f"hydra/sandbox-fixer/{run}"
        assert opened["payload"]["change"] == branch
        refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/hydra/changes/").split()
        assert refs == [f"refs/hydra/changes/{branch}"]
        assert git(repo, "show", f"{branch}:app.txt") == "good\n"
        assert git(repo, "diff", "--name-only", f"main...{branch}").split() == ["app.txt"]
        assert git(repo, "rev-parse", f"{branch}~1").strip() == broken
        assert git(repo, "show", f"{branch}:acceptance/check.sh") == HOLDOUT  # kept, untouched
        assert git(repo, "rev-parse", "main").strip() == broken  # nothing merged by itself

        costs = [r["payload"] for r in h.records("costs", "cost", run=run)]
        agent_costs = [c for c in costs if c["source"].startswith("agent.")]
        assert [c["source"] for c in agent_costs] == ["agent.claude:sandbox_fixer:app"]
        assert agent_costs[0]["usd"] == 0.0123

        # Next tick: main still fails the same way, but the fix awaits review: no new attempt.
        waiting = h.tick("sandbox_fixer")
        assert waiting["payload"]["details"]["repos"]["app"]["outcome"] == "waiting"
        assert len(agent.runs()) == 1
