"""`CodexAgent`: the AgentPort over OpenAI's ``codex`` CLI, ``codex exec --json``.

Invocation (flags from ``codex exec --help`` of codex-cli 0.169.0 and the CLI's
``docs/exec.md``)::

    codex exec --json --color never --sandbox workspace-write --ephemeral
               -c approval_policy="never" --disable shell_snapshot --skip-git-repo-check
               [--model M] [-c key=value …] -

``-`` reads the prompt from stdin. ``exec`` never asks for approvals; ``workspace-write``
lets the agent edit the workdir (not the network); ``--ephemeral`` keeps weeks of runs from
filling ``~/.codex/sessions``; ``--skip-git-repo-check`` lets it run in a workdir that is not
a git checkout (without it codex refuses: "Not inside a trusted directory and
--skip-git-repo-check was not specified."). ``--disable shell_snapshot``: the snapshot is
taken by a login shell codex starts in a session of its own, outside the run's process
group, so a stopped run could leave it behind. ``-c`` overrides are passed through for
operators (a provider, a base URL): never put a secret there. The API key goes in the
environment as ``CODEX_API_KEY`` (the only key variable ``codex exec`` reads: an
``OPENAI_API_KEY`` in its environment is ignored).

Not logged in: ``codex exec`` has no local check; with no credentials it sends requests
without any and, with no network, retries forever. So when no key is configured the adapter
first runs ``codex login status`` (prints "Not logged in", exit 1, when codex holds no
credentials) and raises `ports.AuthFailed` on that.

Events (documented in ``docs/exec.md`` and ``codex-rs/exec/src/exec_events.rs``):
``thread.started``, ``turn.started``, ``item.started`` / ``item.updated`` /
``item.completed`` (``agent_message``, ``reasoning``, ``command_execution``, ``file_change``,
``mcp_tool_call``, ``web_search``, ``error``, …), ``turn.completed`` (``usage``:
``input_tokens``, ``cached_input_tokens``, ``output_tokens``), ``turn.failed``
(``error.message``) and ``error`` (``message``; "Reconnecting… n/5 (…)" while it retries).

Cost and the cap: ``codex exec`` reports tokens once, in ``turn.completed`` at the end. While
the run streams, each completed item is charged with an estimate (`ContextEstimator`: the
prompt plus ``BASE_CONTEXT_TOKENS``, every reply's text and every tool's output, at three
characters a token, each request resending the conversation with what was sent before as
cached input) priced with `OPENAI_PRICES` for the configured model (no model configured:
the table's conservative default, said in the transcript and the log). The estimate is
replaced by the reported tokens times the table when the turn completes. The cap acts on the
estimate the moment it passes ``limits.max_usd`` (runner stops the group, status
``budget_exceeded``).

Worst-case overshoot: one item's estimated cost past the cap, plus the estimate's error. The
stream does not show hidden reasoning tokens or patch text, so a reasoning-heavy run can
cost more than the estimate before the stop; the true figure is known only when a turn
completes. Configure the model, and keep caps with headroom, for codex.

Terminal conditions: "Quota exceeded" (codex's text for OpenAI's ``insufficient_quota``),
"exceeded your current quota" → `ports.CreditExhausted`; "401 Unauthorized",
"invalid_api_key", "Incorrect API key", "Missing environment variable: `CODEX_API_KEY`",
"Not logged in" → `ports.AuthFailed`. A rate limit (429, "Too Many Requests", "usage
limit") the CLI gave up on is a ``failed`` result whose summary starts with ``rate_limited``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

import orjson

from hydra.adapters._agent_cli import MIB, CliAgent
from hydra.adapters._agent_meter import ContextEstimator, StreamMeter, TokenUsage
from hydra.adapters._agent_prices import OPENAI_PRICES
from hydra.adapters._agent_session import AgentSession, non_json_line
from hydra.adapters._agent_transcript import Transcript
from hydra.runner import Classifier, EnvValue, Runner, Secret
from ports import AgentLimits

__all__ = ["CODEX_CLASSIFIER", "CodexAgent", "SandboxMode"]

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]

CREDIT_TEXTS: Final = ("quota exceeded", "insufficient_quota", "exceeded your current quota")
AUTH_TEXTS: Final = (
    "401 unauthorized",
    "invalid_api_key",
    "incorrect api key",
    "missing environment variable: `codex_api_key`",
    "not logged in",
    "please log out and sign in again",
)
RATE_TEXTS: Final = ("too many requests", "status: 429", "status 429", "rate limit", "usage limit")
BASE_CONTEXT_TOKENS: Final = 8_000
"""Assumed size of what codex adds to every request (instructions, tool definitions)."""
LOGIN_CHECK_TIMEOUT_S: Final = 20.0


def _failed_turn(*texts: str) -> re.Pattern[str]:
    either = "|".join(re.escape(text) for text in texts)
    message = r'"message":"(?:[^"\\\n]|\\.)*'
    return re.compile(rf'(?im)^\{{"type":"turn\.failed".*{message}(?:{either})')


CODEX_CLASSIFIER: Final = Classifier(
    credit_exhausted=(_failed_turn(*CREDIT_TEXTS), non_json_line(*CREDIT_TEXTS)),
    auth_terminal=(_failed_turn(*AUTH_TEXTS), non_json_line("not logged in")),
    rate_limited=(_failed_turn(*RATE_TEXTS),),
)
"""codex exits 1 when a turn fails, so successful exits are not scanned."""

LOGIN_CLASSIFIER: Final = Classifier(auth_terminal=("not logged in",))


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _size(value: object) -> int:
    if isinstance(value, str):
        return len(value)
    return 0 if value is None else len(orjson.dumps(value, default=str))


class CodexSession(AgentSession):
    """Reads one ``codex exec --json`` run."""

    def __init__(
        self, meter: StreamMeter, transcript: Transcript, *, source: str, prompt: str
    ) -> None:
        super().__init__(meter, transcript, source=source)
        self._estimate = ContextEstimator(base_tokens=BASE_CONTEXT_TOKENS)
        self._estimate.add_input(len(prompt))
        self._message = ""
        self._turns = TokenUsage()
        """Reported usage of the turns completed so far (``exec`` normally runs one)."""

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "turn.started":
            self.final = None  # a further turn is metered and capped like the first
        elif kind == "item.completed":
            item = event.get("item")
            self._item(item if isinstance(item, dict) else {})
        elif kind == "turn.completed":
            self._completed(event.get("usage"))
        elif kind == "turn.failed":
            error = event.get("error")
            self._failed(str(error.get("message", "")) if isinstance(error, dict) else "")
        elif kind == "error":
            message = str(event.get("message", ""))
            if not message.startswith("Reconnecting"):
                self._terminal(message)
            self.last_error = message[:300]

    def _completed(self, raw: object) -> None:
        usage: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        prompt = _count(usage.get("input_tokens"))
        cached = min(_count(usage.get("cached_input_tokens")), prompt)
        output = _count(usage.get("output_tokens"))
        self._turns = self._turns + TokenUsage(prompt - cached, output, cache_read=cached)
        self.meter.settle(self._turns)
        self.finish("succeeded", self._message or "codex finished without a final message")

    def _item(self, item: Mapping[str, Any]) -> None:
        kind, estimate = item.get("type"), self._estimate
        if kind == "reasoning":
            self.meter.charge(estimate.reply(_size(item.get("text"))))
        elif kind == "agent_message":
            self._message = str(item.get("text", ""))
            self.meter.charge(estimate.request(output_chars=len(self._message)))
        elif kind == "command_execution":
            self.meter.charge(estimate.request(output_chars=_size(item.get("command"))))
            estimate.add_input(_size(item.get("aggregated_output")))
        elif kind in ("file_change", "web_search", "collab_tool_call"):
            self.meter.charge(estimate.request(output_chars=_size(item)))
        elif kind == "mcp_tool_call":
            self.meter.charge(estimate.request(output_chars=_size(item.get("arguments"))))
            estimate.add_input(_size(item.get("result")) + _size(item.get("error")))
        elif kind == "error":
            self.last_error = str(item.get("message", ""))[:300]

    def _terminal(self, message: str) -> None:
        lowered = message.lower()
        if any(needle in lowered for needle in CREDIT_TEXTS):
            raise self.credit_exhausted(message)
        if any(needle in lowered for needle in AUTH_TEXTS):
            raise self.auth_failed(message)

    def _failed(self, message: str) -> None:
        self._terminal(message)
        rate = any(needle in message.lower() for needle in RATE_TEXTS)
        self.finish("failed", f"rate_limited: {message}" if rate else message or "turn failed")


class CodexAgent(CliAgent):
    """:class:`ports.AgentPort` over ``codex exec``; see the module docstring.

    ``config_overrides`` are ``key=value`` strings passed as ``-c`` (TOML values).
    ``login_check`` runs ``codex login status`` before a run when no ``api_key`` (nor a
    ``CODEX_API_KEY`` in ``extra_env``) is given.
    """

    provider: ClassVar[str] = "codex"
    classifier: ClassVar[Classifier] = CODEX_CLASSIFIER
    prices = OPENAI_PRICES

    def __init__(
        self,
        *,
        runner: Runner,
        transcripts_dir: str | Path,
        command: str = "codex",
        search_path: str | None = None,
        model: str | None = None,
        api_key: Secret | None = None,
        sandbox: SandboxMode = "workspace-write",
        config_overrides: Sequence[str] = (),
        skip_git_repo_check: bool = True,
        login_check: bool = True,
        extra_env: Mapping[str, EnvValue] | None = None,
        max_transcript_bytes: int = MIB,
        keep_transcripts: int = 200,
    ) -> None:
        super().__init__(
            runner=runner, transcripts_dir=transcripts_dir, command=command,
            search_path=search_path, model=model, api_key=api_key, extra_env=extra_env,
            max_transcript_bytes=max_transcript_bytes, keep_transcripts=keep_transcripts,
        )  # fmt: skip
        self._sandbox = sandbox
        self._overrides = tuple(config_overrides)
        self._skip_git_check = skip_git_repo_check
        self._login_check = login_check and api_key is None and "CODEX_API_KEY" not in self.env()

    def argv(self, binary: str, limits: AgentLimits) -> list[str]:
        args = [binary, "exec", "--json", "--color", "never", "--sandbox", self._sandbox]
        args += ["--ephemeral", "-c", 'approval_policy="never"', "--disable", "shell_snapshot"]
        if self._skip_git_check:
            args.append("--skip-git-repo-check")
        if self.model:
            args += ["--model", self.model]
        for override in self._overrides:
            args += ["-c", override]
        return [*args, "-"]

    def env(self) -> dict[str, EnvValue]:
        key: dict[str, EnvValue] = {"CODEX_API_KEY": self._api_key} if self._api_key else {}
        return {**key, **super().env()}

    async def preflight(self, binary: str, *, source: str, timeout: float) -> None:  # noqa: ASYNC109 - a runner timeout, not a cancel scope
        """``codex login status``: raises `hydra.runner.AuthFailed` on "Not logged in"."""
        if not self._login_check:
            return
        await self._runner.run(
            [binary, "login", "status"],
            source=f"agent.codex.login:{source}",
            timeout=min(timeout, LOGIN_CHECK_TIMEOUT_S),
            env=self.env(),
            classifier=LOGIN_CLASSIFIER,
        )

    def session(
        self, meter: StreamMeter, transcript: Transcript, *, prompt: str, source: str
    ) -> AgentSession:
        return CodexSession(meter, transcript, source=source, prompt=prompt)
