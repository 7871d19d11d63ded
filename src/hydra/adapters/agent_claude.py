"""`ClaudeAgent`: the AgentPort over Anthropic's ``claude`` CLI in print mode, streamed.

Invocation (flags from ``claude --help`` of 2.1.197 and https://code.claude.com/docs/en/cli-reference)::

    claude -p --output-format stream-json --verbose --permission-mode acceptEdits
           --no-session-persistence [--model M] [--max-turns N] [--max-budget-usd X]
           [--allowedTools T,…] [--disallowedTools T,…]        # the prompt on stdin

``acceptEdits`` lets the agent edit files unattended; tools that would ask for permission are
refused in print mode unless listed in ``allowed_tools`` (``bypassPermissions`` is refused by
the CLI when it runs as root). ``--no-session-persistence`` keeps weeks of runs from filling
``~/.claude``; Hydra keeps its own bounded transcripts. The API key, when configured, is
handed over as ``ANTHROPIC_API_KEY`` in the environment, never on the command line.

Events read as they arrive: ``system``/``init`` (the model), ``system``/``api_retry`` (the
CLI retrying an API error), ``assistant`` (``message.id``, ``message.model``,
``message.usage``; an ``error`` field on API failures: ``authentication_failed``,
``billing_error``, ``rate_limit``, ``server_error``) and the final ``result`` (``subtype``,
``is_error``, ``result``, ``total_cost_usd``, ``usage``, ``api_error_status``).

Cost and the cap: each assistant message's usage (deduplicated by message id) is priced with
`ANTHROPIC_PRICES` for the message's model; the running total is replaced by the CLI's
``total_cost_usd`` when ``result`` arrives. The moment the running total passes
``limits.max_usd`` the line hook returns ``False`` and the runner stops the process group
(SIGTERM, grace, SIGKILL); the run ends ``budget_exceeded`` and its work stays in the
workdir. ``--max-budget-usd`` is passed as well, as a second net inside the CLI.

Worst-case overshoot: the cost of one streamed event. The CLI reports usage when a message
is complete, so the meter learns of a request's cost only after it was spent; the event that
crosses the cap is the last one charged. Two caveats: a request the CLI already started when
it was stopped is billed for what the API processed before the connection dropped but never
reported, and when a run ends normally the ``total_cost_usd`` reconciliation may add what
the per-message estimate missed (long-context surcharges, prices newer than the table).

Terminal conditions (raised, from the stream and, as a backstop, from the runner's
classifier, which also scans successful exits because the CLI may exit 0 on API errors):
credit (``billing_error``, "Credit balance is too low") → `ports.CreditExhausted`; auth
(``authentication_failed`` on a message, "Invalid API key", "Not logged in · Please run
/login") → `ports.AuthFailed`, also when the CLI keeps retrying a 401 (third
``api_retry`` with ``authentication_failed``). A rate limit the CLI gave up on is a
``failed`` result whose summary starts with ``rate_limited``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Literal

from hydra.adapters._agent_cli import MIB, CliAgent
from hydra.adapters._agent_meter import StreamMeter, TokenUsage
from hydra.adapters._agent_prices import ANTHROPIC_PRICES
from hydra.adapters._agent_session import AgentSession, non_json_line, text_of
from hydra.adapters._agent_transcript import Transcript
from hydra.runner import Classifier, EnvValue, Runner, Secret
from ports import AgentLimits

__all__ = ["CLAUDE_CLASSIFIER", "ClaudeAgent", "PermissionMode"]

PermissionMode = Literal["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]

CREDIT_TEXTS: Final = ("credit balance is too low",)
AUTH_TEXTS: Final = (
    "invalid api key",
    "not logged in",
    "please run /login",
    "failed to authenticate",
    "oauth token has expired",
)
AUTH_RETRIES_TOLERATED: Final = 3
"""``api_retry`` events with ``authentication_failed`` before the 401 counts as terminal."""

QUIET_ENV: Final[Mapping[str, EnvValue]] = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}
"""No self-update in the middle of a daemon's life, no telemetry or error reporting."""


def _errored_result(*texts: str) -> re.Pattern[str]:
    """``texts`` opening the text of a ``result`` event that has ``is_error`` set."""
    either = "|".join(re.escape(text) for text in texts)
    return re.compile(rf'(?im)^\{{"type":"result".*"is_error":true.*"result":"(?:{either})')


CLAUDE_CLASSIFIER: Final = Classifier(
    credit_exhausted=(non_json_line(*CREDIT_TEXTS), _errored_result(*CREDIT_TEXTS)),
    auth_terminal=(non_json_line(*AUTH_TEXTS), _errored_result(*AUTH_TEXTS)),
    rate_limited=(
        non_json_line("rate limit", "too many requests"),
        re.compile(r'(?m)^\{"type":"result".*"api_error_status":429'),
    ),
    scan_on_success=True,
)
"""Anchored so the agent's own words (tool output, messages inside JSON strings) never match."""


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _usage(raw: object) -> TokenUsage:
    usage: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    return TokenUsage(
        input=_count(usage.get("input_tokens")),
        output=_count(usage.get("output_tokens")),
        cache_write=_count(usage.get("cache_creation_input_tokens")),
        cache_read=_count(usage.get("cache_read_input_tokens")),
    )


def _text(message: Mapping[str, Any]) -> str:
    blocks = message.get("content")
    texts = [
        str(block.get("text", ""))
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    return " ".join(texts)


class ClaudeSession(AgentSession):
    """Reads one run's ``stream-json`` events."""

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "system":
            self._system(event)
        elif kind == "assistant":
            self._assistant(event)
        elif kind == "result":
            self._result(event)

    def _system(self, event: Mapping[str, Any]) -> None:
        if event.get("subtype") == "init" and isinstance(event.get("model"), str):
            self.meter.model = event["model"]
        elif event.get("subtype") == "api_retry":
            error, attempt = str(event.get("error") or "unknown"), _count(event.get("attempt"))
            self.last_error = f"API retry {attempt}: {error} (HTTP {event.get('error_status')})"
            if error == "billing_error":
                raise self.credit_exhausted(f"claude: {self.last_error}")
            if error == "authentication_failed" and attempt >= AUTH_RETRIES_TOLERATED:
                raise self.auth_failed(f"claude: {self.last_error}")

    def _assistant(self, event: Mapping[str, Any]) -> None:
        raw = event.get("message")
        message: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        error = event.get("error")
        if isinstance(error, str) and error:
            text = _text(message) or error
            if error == "billing_error":
                raise self.credit_exhausted(text)
            if error == "authentication_failed":
                raise self.auth_failed(text)
            self.last_error = text_of(f"{error}: {text}", 300)
        model = message.get("model")
        key = message.get("id")
        self.meter.charge(
            _usage(message.get("usage")),
            key=key if isinstance(key, str) else None,
            model=model if isinstance(model, str) and not model.startswith("<") else None,
        )

    def _result(self, event: Mapping[str, Any]) -> None:
        cost = event.get("total_cost_usd")
        usd = float(cost) if isinstance(cost, int | float) else None
        self.meter.settle(self.meter.tokens.widest(_usage(event.get("usage"))), usd=usd)
        subtype, text = event.get("subtype"), text_of(event.get("result"))
        if subtype == "error_max_budget_usd":
            self.finish("budget_exceeded", f"claude stopped at its --max-budget-usd cap: {text}")
        elif event.get("is_error") is True or subtype not in (None, "success"):
            lowered = text.lower()
            if any(needle in lowered for needle in CREDIT_TEXTS):
                raise self.credit_exhausted(text)
            if any(needle in lowered for needle in AUTH_TEXTS):
                raise self.auth_failed(text)
            rate = event.get("api_error_status") == 429 or "rate limit" in lowered
            label = "rate_limited" if rate else str(subtype or "error")
            self.finish("failed", f"{label}: {text}" if text else label)
        else:
            self.finish("succeeded", text or "claude finished without a final message")


def _money(usd: float) -> str:
    return f"{usd:.6f}".rstrip("0").rstrip(".")


class ClaudeAgent(CliAgent):
    """:class:`ports.AgentPort` over the ``claude`` CLI; see the module docstring.

    ``runner`` is the daemon's (its cost sink is the ledger); transcripts go to
    ``transcripts_dir`` (the newest ``keep_transcripts`` are kept). ``extra_env`` reaches the
    CLI on top of the runner's allow-list (a proxy, ``ANTHROPIC_BASE_URL``, a test ``HOME``).
    """

    provider: ClassVar[str] = "claude"
    classifier: ClassVar[Classifier] = CLAUDE_CLASSIFIER
    prices = ANTHROPIC_PRICES

    def __init__(
        self,
        *,
        runner: Runner,
        transcripts_dir: str | Path,
        command: str = "claude",
        search_path: str | None = None,
        model: str | None = None,
        api_key: Secret | None = None,
        permission_mode: PermissionMode = "acceptEdits",
        allowed_tools: Sequence[str] = (),
        disallowed_tools: Sequence[str] = (),
        max_turns: int | None = None,
        extra_env: Mapping[str, EnvValue] | None = None,
        max_transcript_bytes: int = MIB,
        keep_transcripts: int = 200,
    ) -> None:
        super().__init__(
            runner=runner, transcripts_dir=transcripts_dir, command=command,
            search_path=search_path, model=model, api_key=api_key, extra_env=extra_env,
            max_transcript_bytes=max_transcript_bytes, keep_transcripts=keep_transcripts,
        )  # fmt: skip
        self._permission_mode = permission_mode
        self._allowed = tuple(allowed_tools)
        self._disallowed = tuple(disallowed_tools)
        self._max_turns = max_turns

    def argv(self, binary: str, limits: AgentLimits) -> list[str]:
        args = [binary, "-p", "--output-format", "stream-json", "--verbose"]
        args += ["--permission-mode", self._permission_mode, "--no-session-persistence"]
        if self.model:
            args += ["--model", self.model]
        if self._max_turns is not None:
            args += ["--max-turns", str(self._max_turns)]
        budget = _money(limits.max_usd) if limits.max_usd is not None else "0"
        if float(budget) > 0:
            args += ["--max-budget-usd", budget]
        if self._allowed:
            args += ["--allowedTools", ",".join(self._allowed)]
        if self._disallowed:
            args += ["--disallowedTools", ",".join(self._disallowed)]
        return args

    def env(self) -> dict[str, EnvValue]:
        key: dict[str, EnvValue] = {"ANTHROPIC_API_KEY": self._api_key} if self._api_key else {}
        return {**QUIET_ENV, **key, **super().env()}

    def session(
        self, meter: StreamMeter, transcript: Transcript, *, prompt: str, source: str
    ) -> AgentSession:
        return ClaudeSession(meter, transcript, source=source)
