"""The typed outcome of a runner call, and the two failures that halt a loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import ports
from hydra.runner._capture import Captured

__all__ = [
    "AuthFailed",
    "CreditExhausted",
    "FatalRunError",
    "RunResult",
    "RunStatus",
    "Usage",
]

RunStatus = Literal[
    "ok",
    "timeout",
    "crashed",
    "auth_failed",
    "rate_limited",
    "credit_exhausted",
    "failed",
    "stopped",
]
"""How a call ended.

``ok``: exit code accepted by the classifier. ``timeout``: the hard timeout expired and
the runner killed the process group. ``stopped``: the runner stopped the run on request
(``on_stdout_line`` returned ``False``, or `ProcessRegistry.kill_all`). ``crashed``: the
child died from a signal the runner did not send. ``auth_failed``/``rate_limited``/
``credit_exhausted``: the classifier recognised the output. ``failed``: anything else,
including a child that could not be started (``reason`` ``not_found`` and friends).
"""


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call consumed, as reported by the adapter (zero for plain commands)."""

    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    model: str | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.usd + other.usd,
            other.model or self.model,
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one runner call (of its last attempt when it was retried).

    ``exit_code`` is ``None`` when the child died from a signal (then ``signal`` is its
    number) or never started. ``duration_s`` covers the last attempt from spawn until
    its process group was gone. ``usage`` sums every attempt of the call.
    """

    argv: tuple[str, ...]
    status: RunStatus
    exit_code: int | None
    signal: int | None
    duration_s: float
    stdout: Captured
    stderr: Captured
    attempts: int
    reason: str
    usage: Usage = field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class FatalRunError(Exception):
    """A failure no retry or loop logic can work around; an operator must act.

    Raised (never returned) so it propagates to the orchestrator, which switches the
    loop off. ``result`` is the call's full `RunResult`.
    """

    def __init__(self, result: RunResult) -> None:
        program = result.argv[0] if result.argv else "?"
        super().__init__(f"{program}: {result.status}: {result.reason}")
        self.result = result


class AuthFailed(FatalRunError, ports.AuthFailed):
    """Authentication failed for good: terminal, or still failing after every retry.

    Also a :class:`ports.AuthFailed`, so loops and the base class treat it as the port-level
    terminal failure it is.
    """


class CreditExhausted(FatalRunError, ports.CreditExhausted):
    """The provider refused the call for lack of credit (also a :class:`ports.CreditExhausted`)."""
