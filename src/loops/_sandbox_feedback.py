"""The agent's prompt: feedback compiled from the failing *visible* scenarios only.

Per failing visible scenario: its command, the expected and actual exit code, the tail of its
output and a likely cause from a small heuristic table. Holdouts appear only as two numbers
(how many there are, how many fail): never a name, a command, a file or a line of output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from loops._sandbox_eval import Evaluation
from ports import Scenario, ScenarioResult

__all__ = ["PromptFacts", "compile_prompt", "likely_cause"]

Probe = Callable[[ScenarioResult, str], bool]


def _says(*needles: str) -> Probe:
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    return lambda _result, output: bool(pattern.search(output))


def _exit(*codes: int) -> Probe:
    return lambda result, _output: result.exit_code in codes


_CAUSES: Final[tuple[tuple[Probe, str], ...]] = (
    (lambda r, _o: r.status == "timeout", "timeout: a hang, an endless loop or a slow step"),
    (
        lambda r, _o: r.status == "error",
        "the sandbox could not start the command (a missing shell or workdir)",
    ),
    (
        _says("command not found", ": not found", "not found in PATH"),
        "command not found: a missing tool, script or typo in the command",
    ),
    (_exit(127), "command not found: a missing tool, script or typo in the command"),
    (
        _says("ModuleNotFoundError", "ImportError", "cannot import name", "Cannot find module"),
        "import error: a missing module or dependency, or a wrong import path",
    ),
    (_says("SyntaxError", "IndentationError"), "syntax error in the code under test"),
    (_says("Permission denied"), "permission denied: a file is not executable or readable"),
    (_exit(126), "permission denied: a file is not executable or readable"),
    (
        _says("AssertionError", "assert ", "FAILED", "expected", "mismatch"),
        "assertion failure: the behaviour differs from what the scenario expects",
    ),
    (
        _says("FileNotFoundError", "No such file or directory"),
        "missing file: a path the code or the scenario needs does not exist",
    ),
    (
        _says("Connection refused", "ECONNREFUSED"),
        "connection refused: a service the scenario needs is not running",
    ),
    (
        _says("MemoryError", "Killed", "out of memory"),
        "killed: out of memory or stopped by a signal",
    ),
    (_exit(137, 143), "killed: out of memory or stopped by a signal"),
    (
        _says("Traceback", "Exception", "panic:", "Error:"),
        "uncaught error: the code raised where the scenario expected it to work",
    ),
)


def likely_cause(scenario: Scenario, result: ScenarioResult) -> str:
    """The first matching entry of the heuristic table, or the exit code mismatch itself."""
    for probe, cause in _CAUSES:
        if probe(result, result.output_tail):
            return cause
    return f"exit code {result.exit_code} where {scenario.expected_exit} was expected"


@dataclass(frozen=True)
class PromptFacts:
    repo: str
    branch: str
    threshold: float
    attempt: int
    """Counted attempts on this failure signature, this one included."""
    max_attempts: int
    tail_chars: int
    protected: Sequence[str]
    """Files of the visible scenarios, which the agent must leave alone."""


def compile_prompt(evaluation: Evaluation, facts: PromptFacts) -> str:
    visible = [(s, r) for s, r in evaluation.runs if not s.holdout]
    failing = evaluation.visible_failures
    lines = [
        f"You are working in a checkout of repository `{facts.repo}` (branch `{facts.branch}`).",
        f"Behavioural scenarios judge this repository: {evaluation.passed} of "
        f"{evaluation.total} pass now (satisfaction {evaluation.score:.0%}; needed: "
        f"{facts.threshold:.0%}). This is attempt {facts.attempt} of at most "
        f"{facts.max_attempts} on this failure.",
        "",
        "Make the failing scenarios pass by fixing the code they exercise. Do not edit, "
        "delete, skip or weaken the scenarios, their commands or their files"
        + (f" ({', '.join(f'`{p}`' for p in facts.protected)})" if facts.protected else "")
        + ". Do not commit or push: Hydra commits your work and judges it again.",
        "",
        f"## Failing scenarios you can run ({len(failing)} of {len(visible)} visible)",
    ]
    if not failing:
        lines.append("None: every visible scenario passes.")
    for number, (scenario, result) in enumerate(failing, start=1):
        lines += _scenario_section(number, scenario, result, facts.tail_chars)
    if evaluation.holdout_total:
        lines += [
            "",
            "## Hidden scenarios",
            f"{evaluation.holdout_total} hidden scenario(s) also judge your work; "
            f"{evaluation.holdout_failed} of them fail now. They are withheld on purpose: "
            "fix the behaviour the visible scenarios describe, in general, rather than "
            "special-casing what they check.",
        ]
    lines += ["", "## When you are done", "Reply with a short summary of what you changed and why."]
    return "\n".join(lines) + "\n"


def _scenario_section(
    number: int, scenario: Scenario, result: ScenarioResult, tail_chars: int
) -> list[str]:
    got = "no exit code" if result.exit_code is None else f"exit code {result.exit_code}"
    section = [
        "",
        f"### {number}. `{scenario.name}`",
        f"- command: `{scenario.command}`",
        f"- expected exit code {scenario.expected_exit}, got {got} ({result.status})",
        f"- likely cause: {likely_cause(scenario, result)}",
    ]
    tail = result.output_tail[-tail_chars:] if tail_chars else ""
    if tail.strip():
        fence = "````" if "```" in tail else "```"
        section += [f"- output (last {len(tail)} characters):", fence, tail.rstrip(), fence]
    return section
