"""One agent run as seen through its stdout: the shared part of the claude and codex adapters.

An `AgentSession` is the runner's ``on_stdout_line`` hook for one run. For every line it keeps
the transcript, lets the provider parse the event (`AgentSession.handle`: charge the meter,
note the final outcome, raise a terminal condition) and answers whether the run may go on:
``False`` the moment the meter passes the cap, so the runner stops the process group (SIGTERM,
grace, SIGKILL) and the run ends ``budget_exceeded``. A `ports.AuthFailed` or
`ports.CreditExhausted` raised by `handle` propagates through the runner once the process
group is gone. The final event itself (``result``, ``turn.completed``) never stops a run: the
work is done by then, and its figures only settle the bill.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from hydra.adapters._agent_meter import StreamMeter
from hydra.adapters._agent_transcript import Transcript
from hydra.runner import RunResult, StdoutLine, Usage
from ports import AuthFailed, CreditExhausted

__all__ = ["MAX_SUMMARY", "AgentSession", "EndStatus", "Ending", "non_json_line", "text_of"]

MAX_SUMMARY: Final = 4_000
"""Summaries (the agent's final message, or why it did not finish) are cut to this length."""

EndStatus = Literal["succeeded", "failed", "budget_exceeded"]


@dataclass(frozen=True, slots=True)
class Ending:
    """How the CLI itself said the run ended (its last event)."""

    status: EndStatus
    summary: str


def text_of(value: object, limit: int = MAX_SUMMARY) -> str:
    """``value`` as a one-paragraph string of at most ``limit`` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def non_json_line(*texts: str) -> re.Pattern[str]:
    """A classifier pattern: any of ``texts`` on an output line that is not a JSON event.

    Stream events are single lines opening with ``{``, and text inside their strings cannot
    start a line (newlines are escaped), so the agent's own words never match: only the
    CLI's plain-text errors (stderr, a non-JSON message) do.
    """
    either = "|".join(re.escape(text) for text in texts)
    return re.compile(rf"(?im)^(?![ \t]*\{{).*?(?:{either})")


class AgentSession(abc.ABC):
    """The stream state of one run; subclasses parse their CLI's events in `handle`."""

    def __init__(self, meter: StreamMeter, transcript: Transcript, *, source: str) -> None:
        self.meter = meter
        self.transcript = transcript
        self.source = source
        self.final: Ending | None = None
        self.last_error: str | None = None
        """The latest error the CLI reported without giving up (a retry, a reconnect)."""
        self.budget_stop = False
        """The run was stopped because the meter passed the cap."""
        self.lines = 0

    async def on_line(self, line: StdoutLine) -> bool:
        """The runner's ``on_stdout_line`` hook."""
        self.lines += 1
        event = self.transcript.add(bytes(line))
        if event is None:
            return True
        self.handle(event)
        if self.final is None and self.meter.over_cap:
            self.budget_stop = True
            return False
        return True

    def usage_probe(self, result: RunResult) -> Usage:
        """The runner's ``usage_probe``: what this run cost, for the ledger."""
        return self.meter.runner_usage()

    @abc.abstractmethod
    def handle(self, event: dict[str, Any]) -> None:
        """Take one parsed event; raise `ports.AuthFailed` / `ports.CreditExhausted`."""

    # ------------------------------------------------------------------ helpers
    def credit_exhausted(self, message: str) -> CreditExhausted:
        return CreditExhausted(text_of(message, 500), source=self.source)

    def auth_failed(self, message: str) -> AuthFailed:
        return AuthFailed(text_of(message, 500), source=self.source)

    def finish(self, status: EndStatus, summary: str) -> None:
        self.final = Ending(status, text_of(summary) or status)
