"""``preflight`` end to end: the real daemon on the local world, a real git repository, issues
filed with ``hydra issue``, a scripted agent CLI, ticks triggered over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e._support import (
    ScriptedAgent,
    git,
    hydra_process,
    make_repo,
    running_hydra,
)
from tests.e2e._support_probe import probes, probing_agent

pytestmark = pytest.mark.e2e

FIX = "Fix the greeting typo"
HOPELESS = "Rewrite the universe"
RULES = [
    {
        "name": "fix",
        "when": f"Title: {FIX}",
        "write": {"greeting.txt": "hello\n"},
        "reply": "Fixed the typo in greeting.txt.",
    },
    {"name": "hopeless", "when": f"Title: {HOPELESS}", "fail": "I cannot rewrite the universe."},
]
LOOPS = {"preflight": {"mode": "live", "interval_s": 86400, "max_parallel": 2}}


def test_preflight_resolves_an_issue_and_escalates_another_after_three_attempts_across_a_restart(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", {"README.md": "# app\n", "greeting.txt": "helo\n"})
    base = git(repo, "rev-parse", "main").strip()
    agent = ScriptedAgent.create(tmp_path, RULES)

    with running_hydra(tmp_path, repo=repo, agent=agent, loops=LOOPS) as h:
        # The operator files both issues from inside the repository (its name is the default).
        h.cli("issue", "new", FIX, "--label", "hitl-escalation", "--body", "it says helo", cwd=repo)
        h.cli("issue", "new", HOPELESS, "--label", "hitl-escalation", cwd=repo)

        first = h.tick("preflight")
        assert first["action"] == "tick.finished", first
        run = first["run"]
        attempts = h.records("preflight", "attempt.finished", run=run)
        assert first["payload"]["counts"]["attempted"] == 2, attempts
        assert first["payload"]["counts"]["resolved"] == 1, (attempts, h.d.stderr()[-3000:])

        # --- the success path: label swap and a summary comment on the issue
        fixed = h.cli_json("issue", "show", "1", cwd=repo)
        assert "auto-resolved" in fixed["labels"]
        assert "hitl-escalation" not in fixed["labels"]
        assert fixed["state"] == "open"
        comment = fixed["comments"][-1]
        assert comment["author"] == "hydra"
        assert "resolved this automatically" in comment["body"]
        assert "Fixed the typo in greeting.txt." in comment["body"]
        assert "hydra/preflight/1-1" in comment["body"]

        # --- a branch holding the agent's edit as a commit on top of main; main untouched
        branch = "hydra/preflight/1-1"
        assert git(repo, "show", f"{branch}:greeting.txt") == "hello\n"
        assert git(repo, "rev-parse", f"{branch}~1").strip() == base
        assert git(repo, "diff", "--name-only", f"main...{branch}").split() == ["greeting.txt"]
        assert "issue #1" in git(repo, "log", "-1", "--format=%B", branch)
        assert git(repo, "rev-parse", "main").strip() == base
        # --- a change request: the local world's record under refs/hydra/changes/
        refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/hydra/changes/").split()
        assert refs == [f"refs/hydra/changes/{branch}"]
        opened = h.records("changes", "open_change")
        assert [r["payload"]["change"] for r in opened] == [branch]
        assert opened[0]["actor"] == "loop:preflight"

        # --- the audit trail of the attempt
        started = h.records("preflight", "attempt.started", run=run)
        assert {(r["payload"]["issue"], r["payload"]["attempt"]) for r in started} == {
            ("1", 1),
            ("2", 1),
        }
        finished = {
            r["payload"]["issue"]: r["payload"]
            for r in h.records("preflight", "attempt.finished", run=run)
        }
        assert finished["1"]["outcome"] == "succeeded"
        assert finished["1"]["change"]["id"] == branch
        assert finished["1"]["commit"] == git(repo, "rev-parse", branch).strip()
        assert finished["2"]["outcome"] == "failed"
        assert finished["2"]["counted"] is True
        assert [r["payload"]["issue"] for r in h.records("preflight", "issue.resolved")] == ["1"]

        # --- the cost of each agent run, attributed to the loop with a preflight source
        query = h.cli("audit", "query", "costs", "--action", "cost", "--run", run)
        costs = [json.loads(line) for line in query.stdout.splitlines()]
        assert {c["payload"]["loop"] for c in costs} == {"preflight"}  # git calls too, at $0
        costs = [c for c in costs if c["payload"]["source"].startswith("agent.")]
        assert [c["payload"]["source"] for c in costs] == ["agent.claude:preflight"] * 2
        assert sorted(c["payload"]["usd"] for c in costs) == [0.0004, 0.0123]

        second = h.tick("preflight")
        assert second["payload"]["counts"]["attempted"] == 1  # issue 1 is no longer a candidate
        assert second["payload"]["counts"]["failed"] == 1
        assert "human-required" not in h.cli_json("issue", "show", "2", cwd=repo)["labels"]

    # --- a restart in the middle: the count comes back from the audit stream. The restarted
    # daemon's start-up tick makes the third attempt, and that one hands the issue over.
    with hydra_process(tmp_path, ["preflight"]) as h2:
        attempts = [
            r["payload"]["attempt"]
            for r in h2.records("preflight", "attempt.finished")
            if r["payload"]["issue"] == "2"
        ]
        assert attempts == [1, 2, 3]
        escalated = h2.records("preflight", "issue.escalated")
        assert [r["payload"]["attempts"] for r in escalated] == [[1, 2, 3]]
        issue = h2.cli_json("issue", "show", "2", cwd=repo)
        assert "human-required" in issue["labels"]
        summary = issue["comments"][-1]["body"]
        assert "gave up after 3 failed attempts" in summary
        for number in (1, 2, 3):
            assert f"| {number} | `failed` | `hydra/preflight/2-{number}` |" in summary
        assert summary.count("I cannot rewrite the universe.") == 3

        # A human-required issue is never attempted again.
        calls = len(agent.runs("hopeless"))
        assert calls == 3
        again = h2.tick("preflight")
        assert again["payload"]["counts"]["attempted"] == 0
        assert len(agent.runs("hopeless")) == calls


SPEND = "Polish every greeting"


def test_shadow_previews_leave_no_branch_and_a_capped_agent_leaves_its_work_as_wip(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "app", {"README.md": "# app\n", "greeting.txt": "helo\n"})
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    base = git(repo, "rev-parse", "main").strip()
    pushes = [
        "git push --no-verify origin HEAD:refs/heads/smuggled",
        f"git push --no-verify {remote} HEAD:refs/heads/smuggled",
        "git push origin HEAD:refs/heads/smuggled",
    ]
    rules = [
        {
            "name": "spender",
            "when": f"Title: {SPEND}",
            "run": pushes,
            "write": {"greeting.txt": "hello (half done)\n"},
            "spend": True,
        }
    ]
    agent = probing_agent(tmp_path, rules)
    loops = {"preflight": {"mode": "shadow", "interval_s": 86400, "max_usd": 0.1}}

    with running_hydra(tmp_path, repo=repo, agent=agent, loops=loops) as h:
        h.cli("issue", "new", SPEND, "--label", "hitl-escalation", cwd=repo)

        # --- shadow: a preview, and the operator's repository exactly as it was
        shadow = h.tick("preflight")
        assert shadow["payload"]["counts"]["shadowed"] == 1
        [preview] = h.records("preflight", "attempt.finished", run=shadow["run"])
        assert preview["payload"]["outcome"] == "shadow"
        assert git(repo, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
        assert agent.runs() == []

        # --- live: the agent works, is stopped at its cost cap, and its work stays as WIP
        h.put_loop("preflight", mode="live", reason="trusted after a week of previews")
        live = h.tick("preflight", timeout=30)
        [finished] = h.records("preflight", "attempt.finished", run=live["run"])
        payload = finished["payload"]
        branch = "hydra/preflight/1-2"
        assert payload["outcome"] == "budget_exceeded"
        assert payload["counted"] is True
        assert payload["wip"] is True
        assert payload["branch"] == branch
        assert payload["agent"]["usd"] > 0.1
        assert payload["commit"] == git(repo, "rev-parse", branch).strip()
        assert git(repo, "show", f"{branch}:greeting.txt") == "hello (half done)\n"
        assert git(repo, "rev-parse", f"{branch}~1").strip() == base
        message = git(repo, "log", "-1", "--format=%B", branch)
        assert message.startswith(f"WIP (budget_exceeded): preflight: {SPEND}")
        assert "no change request" in message
        assert git(repo, "for-each-ref", "refs/hydra/changes/") == ""  # nothing proposed
        assert git(repo, "rev-parse", "main").strip() == base
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
        # No push got out of the worktree, not even one skipping the hook.
        ran = probes(agent, "spender")
        assert [p["ran"] for p in ran] == pushes
        assert all(p["code"] != 0 for p in ran), ran
        assert git(remote, "for-each-ref") == ""
        issue = h.cli_json("issue", "show", "1", cwd=repo)
        assert "hitl-escalation" in issue["labels"]
