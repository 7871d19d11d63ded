"""`Runner`: the one way Hydra runs a subprocess."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import anyio

from hydra.runner._attempt import Attempt, AttemptSpec, Limits
from hydra.runner._classify import DEFAULT_CLASSIFIER, Classifier
from hydra.runner._clock import Clock, SystemClock
from hydra.runner._env import EnvPolicy, EnvValue, Secret, build_env
from hydra.runner._group import enable_subreaper
from hydra.runner._outcome import judge
from hydra.runner._registry import DEFAULT_REGISTRY, ProcessRegistry
from hydra.runner._result import AuthFailed, CreditExhausted, RunResult, Usage
from hydra.runner._telemetry import CostSink, LineHook, UsageProbe

__all__ = ["Runner", "RunnerConfig"]

KIB: Final = 1024


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Policy shared by every call of one `Runner`.

    Graces: ``term_grace_s`` between SIGTERM and SIGKILL on timeout or stop (the child
    may flush); ``cancel_grace_s`` on cancellation and for members left behind by a
    child that exited (the kill-switch must be prompt); ``drain_grace_s`` how long to
    wait for pipe EOF once the group is gone. ``auth_backoff_s`` are the sleeps before
    each retry of a transient auth failure (its length is the number of retries).
    ``cancel_record_limit_s`` bounds the cost record made while a call is cancelled.
    """

    env: EnvPolicy = field(default_factory=EnvPolicy)
    classifier: Classifier = DEFAULT_CLASSIFIER
    capture_head_bytes: int = 64 * KIB
    capture_tail_bytes: int = 64 * KIB
    max_line_bytes: int = 1024 * KIB
    term_grace_s: float = 2.0
    cancel_grace_s: float = 0.1
    drain_grace_s: float = 1.0
    auth_backoff_s: tuple[float, ...] = (5.0, 10.0, 20.0)
    cancel_record_limit_s: float = 1.0

    def __post_init__(self) -> None:
        sizes = (self.capture_head_bytes, self.capture_tail_bytes)
        times = (self.term_grace_s, self.cancel_grace_s, self.drain_grace_s)
        if min(sizes) < 0 or self.max_line_bytes < 1:
            msg = "capture sizes must be >= 0 and max_line_bytes >= 1"
            raise ValueError(msg)
        if min((*times, *self.auth_backoff_s, self.cancel_record_limit_s)) < 0:
            msg = "graces, backoffs and limits must be >= 0 seconds"
            raise ValueError(msg)

    def limits(self) -> Limits:
        return Limits(
            capture_head=self.capture_head_bytes,
            capture_tail=self.capture_tail_bytes,
            max_line=self.max_line_bytes,
            term_grace=self.term_grace_s,
            cancel_grace=self.cancel_grace_s,
            drain_grace=self.drain_grace_s,
        )


def _check_call(argv: Sequence[str], source: str, timeout: float) -> tuple[str, ...]:
    items: Sequence[object] = argv  # checked at run time: callers may be untyped
    if isinstance(items, str | bytes) or not items:
        msg = "argv must be a non-empty sequence of str"
        raise ValueError(msg)
    for arg in items:
        if isinstance(arg, Secret):
            msg = "a Secret must never be on a command line (/proc is readable): use env or stdin"
            raise TypeError(msg)
        if not isinstance(arg, str):
            msg = f"argv items must be str, got {type(arg).__name__}"
            raise TypeError(msg)
    if not source:
        msg = "source must name the caller"
        raise ValueError(msg)
    if not (timeout > 0 and math.isfinite(timeout)):
        msg = f"timeout must be a positive number of seconds, got {timeout!r}"
        raise ValueError(msg)
    return tuple(argv)


def _stdin_bytes(stdin: object) -> bytes | None:
    if stdin is None or isinstance(stdin, bytes):
        return stdin
    if isinstance(stdin, Secret):
        return stdin.reveal().encode()
    msg = f"stdin must be bytes or Secret, got {type(stdin).__name__}"
    raise TypeError(msg)


class Runner:
    """Runs subprocesses for adapters: isolated, bounded, classified and accounted.

    Each call spawns the child in its own session with an allow-listed environment,
    drains its output into bounded captures, enforces a hard timeout on its whole
    process group, retries transient auth failures with backoff, records each attempt's
    cost and returns a typed `RunResult`. Constructing a runner makes this process a
    child subreaper (Linux) so orphaned grandchildren can be reaped.
    """

    def __init__(
        self,
        *,
        cost_sink: CostSink,
        clock: Clock | None = None,
        config: RunnerConfig | None = None,
        registry: ProcessRegistry | None = None,
    ) -> None:
        self._sink = cost_sink
        self._clock: Clock = clock or SystemClock()
        self._config = config or RunnerConfig()
        self._limits = self._config.limits()
        self._registry = registry or DEFAULT_REGISTRY
        enable_subreaper()

    @property
    def config(self) -> RunnerConfig:
        return self._config

    @property
    def registry(self) -> ProcessRegistry:
        return self._registry

    async def run(
        self,
        argv: Sequence[str],
        *,
        source: str,
        timeout: float,  # noqa: ASYNC109 - a hard limit with its own status and SIGTERM grace, not a cancel scope
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, EnvValue] | None = None,
        stdin: bytes | Secret | None = None,
        classifier: Classifier | None = None,
        on_stdout_line: LineHook | None = None,
        usage_probe: UsageProbe | None = None,
        model: str | None = None,
    ) -> RunResult:
        """Run ``argv`` (no shell) and return how it went.

        ``timeout`` bounds each attempt; ``env`` adds to the allow-listed environment;
        ``stdin`` is written to the child then closed (default: ``/dev/null``);
        ``source`` and ``model`` label the cost records; ``usage_probe`` reads each
        attempt's usage from its result (default: zero).

        Returns every outcome as a `RunResult`, including a child that timed out,
        crashed, failed or could not be started (``status="failed"``,
        ``reason="not_found"``, ...).

        Raises:
            AuthFailed: terminal auth failure, or transient ones past every retry.
            CreditExhausted: the classifier saw the credit run out.
            TypeError, ValueError: invalid arguments (a `Secret` in ``argv``, say).
            Whatever ``on_stdout_line``, ``usage_probe`` or the cost sink raise, after
            the process group is gone.

        Cancellation: the process group is terminated (SIGTERM, ``cancel_grace_s``,
        SIGKILL) and reaped in a shielded scope, the attempt's cost is recorded on a
        best-effort basis, and the cancellation propagates.
        """
        spec = AttemptSpec(
            argv=_check_call(argv, source, timeout),
            cwd=None if cwd is None else os.fspath(cwd),
            env=build_env(self._config.env, env),
            stdin=_stdin_bytes(stdin),
            timeout=timeout,
            on_stdout_line=on_stdout_line,
        )
        chosen = classifier or self._config.classifier
        backoff = self._config.auth_backoff_s
        total = Usage()
        attempts = 0
        while True:
            attempts += 1
            attempt = Attempt(spec, self._limits, self._registry, self._clock)
            try:
                outcome = await attempt.run()
            except BaseException:
                cancelled, _ = judge(attempt.outcome("cancelled"), chosen, attempts)
                await self._record_while_cancelled(source, model, cancelled, usage_probe)
                raise
            result, verdict = judge(outcome, chosen, attempts)
            usage = (usage_probe(result) if usage_probe else None) or Usage()
            total += usage
            result = replace(result, usage=total)
            await self._record(source, usage.model or model, usage)
            if outcome.hook_error is not None:
                raise outcome.hook_error
            if not (verdict.transient and attempts <= len(backoff)):
                break
            await self._clock.sleep(backoff[attempts - 1])
        if result.status == "credit_exhausted":
            raise CreditExhausted(result)
        if result.status == "auth_failed":
            raise AuthFailed(result)
        return result

    async def _record(self, source: str, model: str | None, usage: Usage) -> None:
        await self._sink.record(
            source=source,
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            usd=usage.usd,
        )

    async def _record_while_cancelled(
        self, source: str, model: str | None, result: RunResult, probe: UsageProbe | None
    ) -> None:
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(self._config.cancel_record_limit_s),
        ):
            try:
                usage = (probe(result) if probe else None) or Usage()
                await self._record(source, usage.model or model, usage)
            except Exception:  # noqa: BLE001 - the cancellation in flight must propagate, not this
                return
