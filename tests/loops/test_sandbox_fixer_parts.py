"""The pieces of ``sandbox_fixer``: options, feedback, memory, evaluation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from loops._sandbox_eval import Evaluation
from loops._sandbox_feedback import PromptFacts, compile_prompt, likely_cause
from loops._sandbox_memory import RepoMemory
from loops.sandbox_fixer import SandboxFixerLoop, SandboxFixerOptions
from ports import Scenario, ScenarioResult, ScenarioStatus


def result(
    name: str = "s", status: ScenarioStatus = "failed", code: int | None = 1, out: str = ""
) -> ScenarioResult:
    return ScenarioResult(name=name, status=status, exit_code=code, duration_s=0.1, output_tail=out)


# ---------------------------------------------------------------------- options
def test_options_document_every_field_and_default_to_no_caps() -> None:
    fields = SandboxFixerOptions.model_fields
    assert all(f.description for f in fields.values())
    opts = SandboxFixerOptions()
    assert (opts.satisfaction_threshold, opts.max_attempts, opts.stall_iterations) == (1.0, 3, 3)
    assert opts.max_usd_per_attempt is None
    assert SandboxFixerLoop.default_mode == "shadow"


@pytest.mark.parametrize(
    ("scenarios", "message"),
    [
        ([{"name": "a", "command": "x"}, {"name": "a", "command": "y"}], "unique"),
        (
            [
                {"name": "a", "command": "x", "files": ["tests"]},
                {"name": "b", "command": "y", "holdout": True, "files": ["tests/hidden"]},
            ],
            "overlap",
        ),
        ([{"name": "a", "command": "x", "files": ["../etc"]}], "relative"),
        ([{"name": "a", "command": "x", "files": ["/etc"]}], "relative"),
        ([{"name": "a b", "command": "x"}], "pattern"),
    ],
)
def test_inconsistent_scenarios_are_refused(
    scenarios: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SandboxFixerOptions.model_validate({"scenarios": scenarios})


def test_holdout_and_visible_files_are_collected() -> None:
    opts = SandboxFixerOptions.model_validate(
        {
            "scenarios": [
                {"name": "a", "command": "x", "files": ["tests/a.py", "tests/b.py"]},
                {"name": "h", "command": "y", "holdout": True, "files": ["hold/", "x.txt"]},
            ],
            "escalation_label": "needs-human",
        }
    )
    assert opts.visible_files == ("tests/a.py", "tests/b.py")
    assert opts.holdout_files == ("hold", "x.txt")
    with pytest.raises(ValidationError, match="comma"):
        SandboxFixerOptions.model_validate({"escalation_label": "a,b"})


# ---------------------------------------------------------------------- feedback
@pytest.mark.parametrize(
    ("status", "code", "output", "cause"),
    [
        ("timeout", None, "", "timeout"),
        ("error", None, "", "could not start"),
        ("failed", 127, "sh: 1: frobnicate: not found", "command not found"),
        ("failed", 127, "", "command not found"),
        ("failed", 1, "ModuleNotFoundError: No module named 'calc'", "import error"),
        ("failed", 1, "  File x, line 2\nSyntaxError: invalid syntax", "syntax error"),
        ("failed", 126, "", "permission denied"),
        ("failed", 1, "E   AssertionError: assert -1 == 3", "assertion failure"),
        ("failed", 1, "FileNotFoundError: data.csv", "missing file"),
        ("failed", 1, "ECONNREFUSED 127.0.0.1:5432", "connection refused"),
        ("failed", 137, "", "killed"),
        ("failed", 1, "Traceback (most recent call last):", "uncaught error"),
        ("failed", 4, "nothing useful", "exit code 4 where 0 was expected"),
    ],
)
def test_likely_causes(status: ScenarioStatus, code: int | None, output: str, cause: str) -> None:
    scenario = Scenario(name="s", command="run")
    assert cause in likely_cause(scenario, result(status=status, code=code, out=output))


FACTS = PromptFacts(
    repo="demo",
    branch="hydra/sandbox-fixer/x",
    threshold=1.0,
    attempt=2,
    max_attempts=3,
    tail_chars=10,
    protected=("tests/test_a.py",),
)


def test_the_prompt_shows_visible_failures_and_counts_holdouts_only() -> None:
    visible = Scenario(name="unit", command="pytest tests")
    passing = Scenario(name="lint", command="ruff check")
    hidden = Scenario(name="secret-case", command="run-hidden", holdout=True, files=("h/x",))
    ev = Evaluation(
        (
            (visible, result("unit", out="0123456789ABCDEFGHIJ```")),
            (passing, result("lint", status="passed", code=0)),
            (hidden, result("secret-case", out="HIDDEN OUTPUT")),
        )
    )
    prompt = compile_prompt(ev, FACTS)
    assert "1 of 3 pass now (satisfaction 33%; needed: 100%)" in prompt
    assert "attempt 2 of at most 3" in prompt
    assert "`tests/test_a.py`" in prompt
    assert "### 1. `unit`" in prompt
    assert "- command: `pytest tests`" in prompt
    assert "expected exit code 0, got exit code 1 (failed)" in prompt
    assert "````\nDEFGHIJ```\n````" in prompt  # the last 10 characters, fenced safely
    assert "1 hidden scenario(s) also judge your work; 1 of them fail now" in prompt
    for leak in ("secret-case", "run-hidden", "h/x", "HIDDEN"):
        assert leak not in prompt
    assert "`lint`" not in prompt  # passing scenarios are not feedback


def test_no_hidden_section_without_holdouts() -> None:
    ev = Evaluation(((Scenario(name="u", command="c"), result("u", code=None, status="timeout")),))
    prompt = compile_prompt(ev, FACTS)
    assert "Hidden scenarios" not in prompt
    assert "got no exit code (timeout)" in prompt


# ---------------------------------------------------------------------- evaluation and memory
def test_the_signature_is_stable_and_names_the_failure() -> None:
    a, b = Scenario(name="a", command="x"), Scenario(name="b", command="y")
    one = Evaluation(((a, result("a", code=1)), (b, result("b", status="passed", code=0))))
    same = Evaluation(((b, result("b", status="passed", code=0)), (a, result("a", code=1))))
    other = Evaluation(((a, result("a", code=2)), (b, result("b", status="passed", code=0))))
    assert one.signature == same.signature != other.signature
    assert Evaluation(((b, result("b", status="passed", code=0)),)).signature == ""
    assert Evaluation(()).score == 1.0


def test_memory_bounds_signatures_and_trajectory_and_round_trips() -> None:
    memory = RepoMemory()
    for n in range(60):
        memory.count(f"sig{n}")
        memory.record({"n": n}, 5)
    assert len(memory.attempts) == 50
    assert "sig0" not in memory.attempts
    assert [p["n"] for p in memory.trajectory] == [55, 56, 57, 58, 59]
    memory.escalated = "stalled"
    assert RepoMemory.load(memory.dump()) == memory
    assert RepoMemory.load(None) == RepoMemory()
    assert RepoMemory.load({"escalated": "bogus"}).escalated is None


def test_memory_judges_improvement_and_blocks() -> None:
    memory = RepoMemory()
    memory.begin("s1", 0.25)
    assert memory.count("s1") == 1
    assert memory.judge(0.5) is True
    assert memory.judge(0.5) is False
    assert memory.judge(None) is False
    assert memory.blocked("s1", max_attempts=3, stall_iterations=2) == "stalled"
    assert memory.blocked("s1", max_attempts=1, stall_iterations=9) == "max_attempts"
    memory.uncount("s1")
    assert memory.attempts == {}
    memory.begin("s1", 0.0)  # the same episode goes on
    assert memory.best == 0.5
    memory.begin("s2", 0.0)  # a new failure: a new episode
    assert (memory.best, memory.stall, memory.tried) == (0.0, 0, 0)
