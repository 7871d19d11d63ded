"""`CliAgent`: what the claude and codex adapters share around one `Runner.run` call.

A subclass names its provider, runner `Classifier` and price table, and builds the argv, the
environment and the stream session. This base finds the binary on ``PATH``, runs it once in
the workdir with the prompt on stdin under the run's wall clock (the runner's hard timeout
kills the whole process group), meters the stream, keeps the transcript and maps the outcome
to an `AgentResult`. The child's ``GIT_CEILING_DIRECTORIES`` is the workdir's parent, so git
run in the workdir (or below it) never discovers a repository above it, such as the
operator's, which by default holds the worktree root (an explicit ``git -C <path>`` still
reaches it: this is no sandbox). The cost record reaches the runner's cost sink with source
``agent.<provider>:<caller's source>``; `ports.AuthFailed` and `ports.CreditExhausted`
propagate (from the stream session or from the classifier), everything else is a result.
"""

from __future__ import annotations

import abc
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import ClassVar, Final

import anyio

from hydra.adapters._agent_meter import StreamMeter
from hydra.adapters._agent_prices import PriceTable
from hydra.adapters._agent_session import AgentSession, text_of
from hydra.adapters._agent_transcript import Transcript
from hydra.logs import get_logger
from hydra.redact import Redactor
from hydra.runner import Classifier, EnvValue, Runner, RunResult, Secret
from ports import AgentLimits, AgentPort, AgentResult, AgentStatus, PortInfo, TerminalPortError

__all__ = ["MIB", "CliAgent", "git_ceiling", "stderr_tail"]

MIB: Final = 1024 * 1024
_TAIL_CHARS: Final = 600
_log = get_logger("hydra.adapters.agent")


def _join(*parts: str | None) -> str:
    return "; ".join(part for part in parts if part)


class CliAgent(AgentPort, abc.ABC):
    """Base of the agent CLI adapters; see the module docstring."""

    provider: ClassVar[str]
    classifier: ClassVar[Classifier]
    prices: ClassVar[PriceTable]

    def __init__(
        self,
        *,
        runner: Runner,
        transcripts_dir: str | Path,
        command: str,
        search_path: str | None = None,
        model: str | None = None,
        api_key: Secret | None = None,
        extra_env: Mapping[str, EnvValue] | None = None,
        max_transcript_bytes: int = MIB,
        keep_transcripts: int = 200,
    ) -> None:
        self._runner = runner
        self._transcripts_dir = Path(transcripts_dir)
        self._command = command
        self._search_path = search_path
        self.model = model
        self._api_key = api_key
        self._extra_env = dict(extra_env or {})
        self._max_transcript_bytes = max_transcript_bytes
        self._keep_transcripts = keep_transcripts
        hidden = [v.reveal() for v in (api_key, *self._extra_env.values()) if isinstance(v, Secret)]
        self._redactor = Redactor(hidden)
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ for subclasses
    @abc.abstractmethod
    def argv(self, binary: str, limits: AgentLimits) -> list[str]:
        """The command line (never a secret, never the prompt: that goes on stdin)."""

    @abc.abstractmethod
    def session(
        self, meter: StreamMeter, transcript: Transcript, *, prompt: str, source: str
    ) -> AgentSession:
        """A fresh stream session for one run."""

    def env(self) -> dict[str, EnvValue]:
        """What the child gets on top of the runner's allow-listed environment (and
        ``GIT_CEILING_DIRECTORIES``, see :func:`git_ceiling`)."""
        return dict(self._extra_env)

    async def preflight(self, binary: str, *, source: str, timeout: float) -> None:  # noqa: ASYNC109 - a runner timeout, not a cancel scope
        """Checks before the run (raise `ports.AuthFailed` to refuse it); default none."""

    @property
    def command(self) -> str:
        """The CLI's name or path as configured."""
        return self._command

    # ------------------------------------------------------------------ AgentPort
    def binary(self) -> str | None:
        """The CLI's absolute path, looked up on ``search_path`` (default ``PATH``) each call.

        Absolute, because the CLI runs in the workdir: a relative ``command`` or ``PATH``
        entry would otherwise resolve against the wrong directory.
        """
        found = shutil.which(self._command, path=self._search_path)
        return None if found is None else os.path.abspath(found)  # noqa: PTH100 - a str in, a str out

    def info(self) -> PortInfo:
        found = self.binary()
        if found is None:
            return PortInfo(self.provider, "unconfigured", self._missing())
        return PortInfo(self.provider, "configured", found)

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        binary = self.binary()
        if binary is None:
            return AgentResult("unconfigured", self._missing(), provider=self.provider)
        deadline = anyio.current_time() + limits.wall_clock_s
        await self.preflight(binary, source=source, timeout=limits.wall_clock_s)
        remaining = deadline - anyio.current_time()
        if remaining <= 0:
            why = f"no time left to run {self.provider} (wall clock {limits.wall_clock_s:g} s)"
            return AgentResult("timeout", why, provider=self.provider, model=self.model)
        call_source = f"agent.{self.provider}:{source}"
        meter = StreamMeter(self.prices, cap_usd=limits.max_usd, model=self.model)
        transcript = Transcript(
            self._transcripts_dir,
            provider=self.provider,
            source=source,
            max_bytes=self._max_transcript_bytes,
            keep=self._keep_transcripts,
            redactor=self._redactor,
        )
        stream = self.session(meter, transcript, prompt=prompt, source=call_source)
        argv = self.argv(binary, limits)
        transcript.start(
            provider=self.provider, source=source, model=self.model, workdir=workdir,
            argv=argv, wall_clock_s=limits.wall_clock_s, max_usd=limits.max_usd, prompt=prompt,
        )  # fmt: skip
        ending: tuple[str, str] = ("cancelled", "the run was cancelled")
        try:
            run = await self._runner.run(
                argv,
                source=call_source,
                timeout=remaining,
                cwd=workdir,
                env={**self.env(), "GIT_CEILING_DIRECTORIES": git_ceiling(workdir)},
                stdin=prompt.encode(),
                classifier=self.classifier,
                on_stdout_line=stream.on_line,
                usage_probe=stream.usage_probe,
                model=meter.model,
            )
            result = self._result(run, stream, limits)
            ending = (result.status, result.summary)
        except TerminalPortError as exc:
            ending = (exc.reason, str(exc))
            raise
        except Exception as exc:
            ending = ("error", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._finish(transcript, stream, *ending)
            path = await transcript.save()
            if path is None:
                _log.warning("agent.transcript_not_saved", directory=str(self._transcripts_dir))
        return replace(result, transcript_path=path)

    # ------------------------------------------------------------------ internals
    def _missing(self) -> str:
        where = self._search_path if self._search_path is not None else "PATH"
        return f"{self._command!r} not found on {where} (install the {self.provider} CLI)"

    def _result(self, run: RunResult, stream: AgentSession, limits: AgentLimits) -> AgentResult:
        status, summary = self._status(run, stream, limits)
        meter = stream.meter
        return AgentResult(
            status=status,
            summary=text_of(summary) or status,
            provider=self.provider,
            model=meter.model,
            input_tokens=meter.tokens.prompt,
            output_tokens=meter.tokens.output,
            usd=meter.usd,
            duration_s=run.duration_s,
        )

    def _status(
        self, run: RunResult, stream: AgentSession, limits: AgentLimits
    ) -> tuple[AgentStatus, str]:
        """Precedence: the budget stop, what the runner saw, the CLI's final event, the exit."""
        meter, name = stream.meter, self.provider
        if stream.budget_stop:
            return "budget_exceeded", (
                f"stopped at the ${meter.cap_usd:g} cost cap after ${meter.usd:.4f}; "
                "the work done so far is left in the workdir"
            )
        ended = self._runner_status(run, stream, limits)
        if ended is not None:
            return ended
        tail = stderr_tail(run, self._redactor)
        if stream.final is None:
            label = "rate_limited" if run.status == "rate_limited" else f"exit {run.exit_code}"
            why = f"{name} ended without a final event ({label})"
            return "failed", _join(why, tail or stream.last_error)
        if stream.final.status == "succeeded" and run.exit_code != 0:
            return "failed", _join(f"{name} exited {run.exit_code} after finishing", tail)
        return stream.final.status, stream.final.summary

    def _runner_status(
        self, run: RunResult, stream: AgentSession, limits: AgentLimits
    ) -> tuple[AgentStatus, str] | None:
        """The endings the runner caused or saw (timeout, signal, spawn failure, stop)."""
        name = self.provider
        if run.status == "timeout":
            return self._timeout(stream, limits)
        if run.status == "crashed":
            return "crashed", _join(f"{name} {run.reason}", stderr_tail(run, self._redactor))
        if run.status == "failed" and run.exit_code is None:
            if run.reason == "not_found":
                return "unconfigured", f"{name}: the binary disappeared ({run.argv[0]})"
            return "failed", f"could not run {name}: {run.reason}"
        if run.status == "stopped":
            return "failed", f"{name} stopped: {run.reason}"
        return None

    def _timeout(self, stream: AgentSession, limits: AgentLimits) -> tuple[AgentStatus, str]:
        """A CLI that hung after its final event keeps that ending (its work is done)."""
        name = self.provider
        if stream.final is not None:
            late = f"{name} did not exit after its final event; stopped at the wall clock"
            return stream.final.status, _join(stream.final.summary, late)
        last = f"last error: {stream.last_error}" if stream.last_error else None
        return "timeout", _join(f"{name} timed out after {limits.wall_clock_s:g} s", last)

    def _finish(
        self, transcript: Transcript, stream: AgentSession, status: str, summary: str
    ) -> None:
        meter = stream.meter
        unpriced = sorted(meter.unpriced)
        transcript.finish(
            status=status, summary=text_of(summary, 1_000), model=meter.model, usd=meter.usd,
            input_tokens=meter.tokens.prompt, output_tokens=meter.tokens.output,
            cap_usd=meter.cap_usd, settled=meter.settled, events=meter.events,
            max_event_usd=meter.max_event_usd, unpriced_models=unpriced, lines=stream.lines,
        )  # fmt: skip
        fresh = [model for model in unpriced if model not in self._warned]
        if fresh:
            self._warned.update(fresh)
            default = self.prices.default
            _log.warning(
                "agent.model_not_in_price_table",
                provider=self.provider,
                models=fresh,
                priced_as={"input": default.input, "output": default.output},
            )


def stderr_tail(run: RunResult, redactor: Redactor) -> str:
    """The end of the CLI's stderr on one line, redacted."""
    lines = (line.strip() for line in run.stderr.text().splitlines())
    text = " | ".join(line for line in lines if line)
    return redactor.redact_text(text[-_TAIL_CHARS:])


def git_ceiling(workdir: str | os.PathLike[str]) -> str:
    """``GIT_CEILING_DIRECTORIES`` for an agent in ``workdir``: its parent, symlinks resolved
    (git compares resolved paths), so repository discovery stops at the workdir itself."""
    return str(Path(workdir).resolve().parent)
