"""Kill-switches end to end: while a loop's agent hangs (with helper processes it forked),
switching the loop off over HTTP, pulling the global switch, or ``hydra panic`` kills the
agent's whole process group within seconds, and the audit trail says who did it and why.

One daemon per module runs ``preflight``, ``sandbox_fixer`` and ``review_advisor`` live on a
real repository where each has work to do: an escalated issue, a failing scenario on main and
an open change request (opened by preflight itself, the normal way). Between tests all three
are switched off; a test switches on the ones it needs (which ticks them at once).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.e2e._support import (
    AGENT_LOOPS,
    Hydra,
    ScriptedAgent,
    commit,
    group_exists,
    make_repo,
    run_cli,
    running_hydra,
    wait_for,
)

pytestmark = pytest.mark.e2e

GONE_WITHIN_S = 5.0
RULE_OF = {"preflight": "preflight", "sandbox_fixer": "sandbox", "review_advisor": "review"}
SEED = "Seed a change request"
HANG = [
    {"name": "preflight", "when": "You are Hydra's preflight agent", "hang": True, "helpers": 2},
    {"name": "review", "when": "You are Hydra's review advisor", "hang": True, "helpers": 2},
    {"name": "sandbox", "when": "Behavioural scenarios judge", "hang": True, "helpers": 2},
]
UNIT = 'grep -qx good app.txt || { echo "app.txt is not good"; exit 1; }\n'
LOOPS = {
    "preflight": {"mode": "live", "interval_s": 86400},
    "review_advisor": {"mode": "live", "interval_s": 86400},
    "sandbox_fixer": {
        "mode": "live",
        "interval_s": 86400,
        "max_attempts": 50,  # every cancelled attempt counts; never escalate here
        "scenarios": [{"name": "unit", "command": "sh unit.sh", "files": ["unit.sh"]}],
    },
}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hydra, ScriptedAgent]]:
    root = tmp_path_factory.mktemp("kill")
    repo = make_repo(
        root / "app",
        {"README.md": "# app\n", "app.txt": "good\n", "unit.sh": UNIT, "docs/a.md": "a\n"},
    )
    seed = {"name": "seed", "when": f"Title: {SEED}", "write": {"docs/a.md": "b\n"}}
    agent = ScriptedAgent.create(root, [seed])
    with running_hydra(root, repo=repo, agent=agent, loops=LOOPS) as h:
        # Work for each loop: a change request (preflight opens it), an issue it cannot
        # finish, a regression on main. From now on every agent run hangs.
        h.cli("issue", "new", SEED, "--label", "hitl-escalation", cwd=repo)
        assert h.tick("preflight")["payload"]["counts"]["resolved"] == 1
        agent.set_rules(HANG)
        h.cli("issue", "new", "Stop the presses", "--label", "hitl-escalation", cwd=repo)
        commit(repo, "Regress", {"app.txt": "bad\n"})
        yield h, agent


@pytest.fixture
def quiet(rig: tuple[Hydra, ScriptedAgent]) -> tuple[Hydra, ScriptedAgent]:
    """Every agent loop switched off, the global switch on, no agent process left."""
    h, agent = rig
    for name in AGENT_LOOPS:
        if h.loop(name)["enabled"]:
            h.put_loop(name, enabled=False, reason="e2e: quiet between tests")
    response = h.http.get("/api/loops")
    if not response.json()["global"]["enabled"]:
        h.put_global(enabled=True, reason="e2e: quiet between tests")
    for name in AGENT_LOOPS:
        h.wait_idle(name)
    wait_for(lambda: not agent.processes(), what="no agent process left")
    return h, agent


def start_hanging(h: Hydra, agent: ScriptedAgent, loops: Sequence[str]) -> dict[str, Any]:
    """Switch ``loops`` on (each ticks at once; the trigger makes sure) and wait until each
    one's agent hangs. Returns, per loop, its running tick's run id and its agent's call."""
    before = len(agent.hanging())
    for name in loops:
        h.put_loop(name, enabled=True, reason="e2e: let it run")
        assert h.http.post(f"/api/loops/{name}/trigger").status_code == 202
    fresh = wait_for(
        lambda: (new := agent.hanging()[before:]) and len(new) >= len(loops) and new,
        what=f"the agents of {list(loops)} to hang",
    )
    calls = {call["rule"]: call for call in fresh}
    running: dict[str, Any] = {}
    for name in loops:
        call = calls[RULE_OF[name]]
        assert len(call["hanging"]) == 2
        assert group_exists(call["pgid"])
        run = h.loop(name)["running_run_id"]
        assert run is not None
        running[name] = {"run": run, "call": call}
    # Everything the agents started carries the marker; the daemon itself does not.
    assert len(agent.processes()) == 3 * len(loops)
    return running


def assert_all_gone(agent: ScriptedAgent, running: dict[str, Any], since: float) -> float:
    """Wait (a few seconds at most) until no agent process and no agent process group is
    left; returns the seconds it took since ``since``."""

    def gone() -> bool:
        groups = [r["call"]["pgid"] for r in running.values()]
        return not agent.processes() and not any(group_exists(g) for g in groups)

    wait_for(gone, timeout=GONE_WITHIN_S, what="every agent process group to be gone")
    return time.monotonic() - since


def assert_cancelled(h: Hydra, running: dict[str, Any], reason: str) -> None:
    for name, info in running.items():
        record = h.wait_record(name, "tick.cancelled", lambda r, run=info["run"]: r["run"] == run)
        assert record["payload"]["reason"] == reason, record
        assert record["actor"] == f"loop:{name}"
        h.wait_idle(name, timeout=5)


@pytest.mark.parametrize("loop", AGENT_LOOPS)
def test_switching_a_loop_off_kills_its_agent_process_group(
    quiet: tuple[Hydra, ScriptedAgent], loop: str
) -> None:
    h, agent = quiet
    running = start_hanging(h, agent, [loop])
    reason = f"e2e: {loop} misbehaves"

    since = time.monotonic()
    view = h.put_loop(loop, enabled=False, reason=reason)
    took = assert_all_gone(agent, running, since)

    assert view["enabled"] is False
    assert_cancelled(h, running, f"switched off by dashboard: {reason}")
    disabled = [
        r
        for r in h.records("control", "loop.disabled")
        if r["payload"]["loop"] == loop and r["payload"]["reason"] == reason
    ]
    assert len(disabled) == 1
    assert disabled[0]["actor"] == "dashboard"
    assert disabled[0]["payload"]["drain"] is False
    assert disabled[0]["payload"]["changes"]["enabled"] == {"old": True, "new": False}
    print(f"{loop}: agent group gone {took * 1000:.0f} ms after the switch-off request")


def test_the_global_switch_kills_every_running_agent(quiet: tuple[Hydra, ScriptedAgent]) -> None:
    h, agent = quiet
    running = start_hanging(h, agent, AGENT_LOOPS)
    reason = "e2e: the factory is on fire"

    since = time.monotonic()
    body = h.put_global(enabled=False, reason=reason)
    took = assert_all_gone(agent, running, since)

    assert body["global"]["enabled"] is False
    assert_cancelled(h, running, f"switched off by api: {reason}")
    [record] = [
        r for r in h.records("control", "global.disabled") if r["payload"]["reason"] == reason
    ]
    assert record["actor"] == "api"
    print(f"global switch: all agent groups gone {took * 1000:.0f} ms after the request")


def test_hydra_panic_kills_every_running_agent(quiet: tuple[Hydra, ScriptedAgent]) -> None:
    h, agent = quiet
    running = start_hanging(h, agent, AGENT_LOOPS)
    reason = "e2e: an agent is deleting the disk"

    since = time.monotonic()
    pulled = run_cli(
        ["panic", "--reason", reason, "--data-dir", str(h.data)], cwd=h.root, timeout=20
    )
    assert pulled.returncode == 0, pulled.stderr
    assert "All loops stopped" in pulled.stdout
    took = assert_all_gone(agent, running, since)

    [record] = [
        r
        for r in h.records("control", "global.disabled")
        if r["payload"]["reason"].startswith(reason)
    ]
    assert record["actor"] == "cli"
    full_reason = record["payload"]["reason"]
    assert "(pulled by " in full_reason
    assert_cancelled(h, running, f"switched off by cli: {full_reason}")
    assert h.http.get("/api/loops").json()["global"]["enabled"] is False
    print(f"hydra panic: all agent groups gone {took * 1000:.0f} ms after the command started")
