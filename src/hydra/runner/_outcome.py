"""What one attempt observed (`Outcome`) and what it means (`judge`)."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Literal

from hydra.runner._capture import Captured
from hydra.runner._classify import Classifier, Verdict
from hydra.runner._result import RunResult

__all__ = ["Cause", "Outcome", "judge"]

Cause = Literal["timeout", "stopped", "kill_all", "cancelled"]
"""Why the runner itself ended a child (``None`` in `Outcome` when it did not)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The raw facts of one attempt, before classification.

    ``returncode`` follows asyncio: negative for death by signal, ``None`` when the
    child never started (``spawn_error`` says why) or was not reaped in time.
    """

    argv: tuple[str, ...]
    returncode: int | None
    cause: Cause | None
    stdout: Captured
    stderr: Captured
    duration_s: float
    timeout_s: float
    spawn_error: str | None = None
    hook_error: Exception | None = None
    leftovers_killed: bool = False
    pipes_held: bool = False
    group_survived: bool = False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _runner_verdict(outcome: Outcome) -> Verdict | None:
    """The cases the runner caused or saw itself; ``None`` leaves it to the classifier."""
    if outcome.spawn_error is not None:
        return Verdict("failed", outcome.spawn_error)
    if outcome.cause == "timeout":
        return Verdict("timeout", f"timed out after {outcome.timeout_s:g} s")
    if outcome.cause == "stopped":
        error = outcome.hook_error
        by = f"on_stdout_line raising {type(error).__name__}" if error else "on_stdout_line"
        return Verdict("stopped", f"stopped by {by}")
    if outcome.cause is not None:
        return Verdict("stopped", outcome.cause)
    return None


def _verdict(outcome: Outcome, classifier: Classifier) -> Verdict:
    decided = _runner_verdict(outcome)
    if decided is not None:
        return decided
    code = outcome.returncode
    if code is None:
        return Verdict("failed", "exit status unknown")
    if code < 0:
        return Verdict("crashed", f"killed by {_signal_name(-code)}")
    return classifier.classify(code, outcome.stdout, outcome.stderr)


def judge(outcome: Outcome, classifier: Classifier, attempts: int) -> tuple[RunResult, Verdict]:
    """Classify ``outcome``; the result of the ``attempts``-th attempt and its verdict."""
    verdict = _verdict(outcome, classifier)
    notes = [verdict.reason] if verdict.reason else []
    if outcome.leftovers_killed:
        notes.append("leftover group members killed")
    if outcome.pipes_held:
        notes.append("output left open by a process outside the group")
    if outcome.group_survived:
        notes.append("process group survived SIGKILL")
    code = outcome.returncode
    result = RunResult(
        argv=outcome.argv,
        status=verdict.status,
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        duration_s=outcome.duration_s,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        attempts=attempts,
        reason="; ".join(notes),
    )
    return result, verdict
