"""Cost telemetry: every runner attempt is recorded, with a ``source`` naming its caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from hydra.runner._capture import StdoutLine
from hydra.runner._result import RunResult, Usage

__all__ = ["CostSink", "LineHook", "UsageProbe"]


class CostSink(Protocol):
    """Where the runner records what each attempt cost.

    ``source`` names the caller, unique per adapter and loop (``agent.claude:preflight``);
    the implementation (the runtime's cost ledger) adds loop and run ids from its own
    context. Called once per attempt, also for plain commands (``usd=0``) so call counts
    are visible, and for attempts that failed to start. Exceptions propagate to the
    runner's caller, except while the call is being cancelled (then they are dropped:
    the cancellation wins).
    """

    async def record(
        self,
        *,
        source: str,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        usd: float,
    ) -> None: ...


UsageProbe = Callable[[RunResult], Usage | None]
"""Reads an attempt's usage from its result (parsed output, or state the adapter's
``on_stdout_line`` hook accumulated). ``None`` means zero. Called once per attempt,
including a cancelled one (then with ``status="stopped"``, ``reason="cancelled"``)."""

LineHook = Callable[[StdoutLine], Awaitable[bool | None]]
"""``on_stdout_line``: awaited for each stdout line as it arrives; return ``False`` to
stop the run (the runner terminates the group and the result is ``stopped``)."""
