"""A coding agent that follows a script: succeed (editing files), fail, time out, or run dry."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from fakes._clock import FakeClock
from fakes._files import Content, Workdirs, as_bytes, check_relpath
from ports import (
    AgentLimits,
    AgentPort,
    AgentResult,
    AuthFailed,
    CreditExhausted,
    PortInfo,
    TerminalPortError,
)

RunStatus = Literal["succeeded", "failed", "timeout", "budget_exceeded", "crashed"]
MAX_SUMMARY = 4_000


@dataclass(frozen=True)
class AgentCall:
    """What a scripted :attr:`AgentOutcome.action` sees."""

    prompt: str
    workdir: str
    limits: AgentLimits
    source: str
    files: MutableMapping[str, bytes] | None
    """The worktree's live files when ``workdir`` is a fake worktree: edit them in place."""


@dataclass(frozen=True)
class AgentOutcome:
    """One scripted run. Build it with the class methods (``AgentOutcome.succeed(...)``)."""

    status: RunStatus = "succeeded"
    summary: str = "done"
    usd: float = 0.01
    input_tokens: int = 1_000
    output_tokens: int = 100
    duration_s: float = 1.0
    edits: Mapping[str, Content | None] = field(default_factory=dict)
    """Files to write into the worktree (``None`` deletes), whatever the status."""
    action: Callable[[AgentCall], None] | None = None
    """Called during the run, after ``edits``: for edits that depend on the prompt or files."""
    raises: Literal["credit_exhausted", "auth_failed"] | None = None

    @classmethod
    def succeed(
        cls,
        summary: str = "done",
        *,
        edits: Mapping[str, Content | None] | None = None,
        action: Callable[[AgentCall], None] | None = None,
        usd: float = 0.01,
        duration_s: float = 1.0,
    ) -> AgentOutcome:
        return cls(
            "succeeded", summary, usd, duration_s=duration_s, edits=edits or {}, action=action
        )

    @classmethod
    def fail(
        cls,
        summary: str = "the agent gave up",
        *,
        edits: Mapping[str, Content | None] | None = None,
    ) -> AgentOutcome:
        return cls("failed", summary, edits=edits or {})

    @classmethod
    def timeout(cls, summary: str = "the agent ran out of time") -> AgentOutcome:
        return cls("timeout", summary)

    @classmethod
    def budget_exceeded(cls, summary: str = "the agent hit its cost cap") -> AgentOutcome:
        return cls("budget_exceeded", summary)

    @classmethod
    def crash(cls, summary: str = "the agent process crashed") -> AgentOutcome:
        return cls("crashed", summary, usd=0.0, input_tokens=0, output_tokens=0)

    @classmethod
    def credit_exhausted(cls, message: str = "credit balance is too low") -> AgentOutcome:
        return cls("failed", message, usd=0.0, raises="credit_exhausted")

    @classmethod
    def auth_failed(cls, message: str = "invalid API key") -> AgentOutcome:
        return cls("failed", message, usd=0.0, raises="auth_failed")


@dataclass(frozen=True)
class AgentRun:
    """One call of :meth:`FakeAgent.run` and how it ended (``result`` or ``error``)."""

    prompt: str
    workdir: str
    limits: AgentLimits
    source: str
    started_at: datetime | None
    result: AgentResult | None
    error: TerminalPortError | None = None


class FakeAgent(AgentPort):
    """:class:`ports.AgentPort` following a script of :class:`AgentOutcome`, then ``default``.

    Limits behave like a real agent's: a scripted run longer than ``limits.wall_clock_s`` ends
    ``timeout``, one costing more than ``limits.max_usd`` ends ``budget_exceeded`` at the cap.
    With a ``clock`` the run's duration passes on it. With ``unconfigured`` set (the reason),
    every run returns status ``unconfigured`` and consumes nothing. Every call is kept in
    :attr:`runs`.
    """

    def __init__(
        self,
        *script: AgentOutcome,
        default: AgentOutcome | None = None,
        workdirs: Workdirs | None = None,
        clock: FakeClock | None = None,
        provider: str = "fake",
        model: str = "fake-model",
        unconfigured: str | None = None,
    ) -> None:
        self._script = deque(script)
        self.default = default or AgentOutcome.succeed()
        self._workdirs = workdirs
        self._clock = clock
        self.provider = provider
        self.model = model
        self.unconfigured = unconfigured
        self.runs: list[AgentRun] = []

    def info(self) -> PortInfo:
        if self.unconfigured is not None:
            return PortInfo(implementation="fake", state="unconfigured", detail=self.unconfigured)
        return PortInfo(implementation="fake", state="configured", detail=self.provider)

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        started = self._clock.now() if self._clock else None
        if self.unconfigured is not None:
            result = AgentResult("unconfigured", self.unconfigured, provider="none")
            self.runs.append(AgentRun(prompt, workdir, limits, source, started, result))
            return result
        outcome = self._script.popleft() if self._script else self.default
        self._act(outcome, AgentCall(prompt, workdir, limits, source, self._files(workdir)))
        if outcome.raises is not None:
            kind = CreditExhausted if outcome.raises == "credit_exhausted" else AuthFailed
            error = kind(outcome.summary, source=source)
            self.runs.append(AgentRun(prompt, workdir, limits, source, started, None, error))
            raise error
        result = self._result(outcome, limits)
        if self._clock is not None:
            self._clock.advance(result.duration_s)
        self.runs.append(AgentRun(prompt, workdir, limits, source, started, result))
        return result

    # ------------------------------------------------------------------ for tests
    def script(self, *outcomes: AgentOutcome) -> None:
        """Queue outcomes for the next runs."""
        self._script.extend(outcomes)

    @property
    def pending(self) -> int:
        """Scripted outcomes not used yet."""
        return len(self._script)

    @property
    def prompts(self) -> list[str]:
        return [run.prompt for run in self.runs]

    # ------------------------------------------------------------------ internals
    def _files(self, workdir: str) -> MutableMapping[str, bytes] | None:
        return self._workdirs.files_at(workdir) if self._workdirs else None

    @staticmethod
    def _act(outcome: AgentOutcome, call: AgentCall) -> None:
        if outcome.edits:
            if call.files is None:
                raise LookupError(f"FakeAgent: {call.workdir!r} is not a fake worktree to edit")
            for path, data in outcome.edits.items():
                rel = check_relpath(path, port="agent")
                if data is None:
                    call.files.pop(rel, None)
                else:
                    call.files[rel] = as_bytes(data)
        if outcome.action is not None:
            outcome.action(call)

    def _result(self, outcome: AgentOutcome, limits: AgentLimits) -> AgentResult:
        status: RunStatus = outcome.status
        duration, usd, summary = outcome.duration_s, outcome.usd, outcome.summary
        if duration > limits.wall_clock_s:
            status, summary = "timeout", f"stopped after {limits.wall_clock_s:g} s"
        elif limits.max_usd is not None and usd > limits.max_usd:
            status, summary = "budget_exceeded", f"stopped at the ${limits.max_usd:g} cap"
        if status == "timeout":
            duration = limits.wall_clock_s
        if status == "budget_exceeded" and limits.max_usd is not None:
            usd = limits.max_usd
        return AgentResult(
            status=status,
            summary=summary[:MAX_SUMMARY],
            provider=self.provider,
            model=self.model,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            usd=usd,
            duration_s=duration,
        )
