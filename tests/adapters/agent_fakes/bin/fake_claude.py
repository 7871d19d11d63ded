"""A fake ``claude -p --output-format stream-json --verbose``: the documented event stream.

Event shapes follow the real CLI (2.1.197; the error events were read off it with a local
stand-in for the API, see ``tests/adapters/test_agent_real.py``): ``system``/``init``,
``system``/``api_retry``, ``assistant`` (one event per content block, each repeating the
message's ``usage``; an ``error`` field on API failures), ``user`` (tool results) and the final
``result``.

Scenarios (``FAKE_AGENT_SCENARIO``): ``succeed``, ``fail``, ``timeout``, ``budget``, ``crash``,
``credit``, ``auth``, ``auth_retry``, ``credit_plain``, ``rate_limited``, ``max_budget``,
``mentions`` (succeeds while its messages quote the error texts), ``linger`` (succeeds,
then never exits). ``FAKE_AGENT_ECHO`` is
appended to the successful run's tool output (a tool printing a secret).
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _fakecli import (
    SUCCESS_FILE,
    crash,
    delay,
    emit,
    hang,
    record,
    scenario,
    write_partial_file,
    write_success_file,
)

MODEL = "claude-sonnet-4-5-20250929"
SESSION = str(uuid.uuid4())
BUDGET_USAGE = {"input_tokens": 10_000, "output_tokens": 4_000}
"""Each ``budget`` event: 10k input at $3/MTok + 4k output at $15/MTok = $0.09 (Sonnet 4.5)."""
NOT_LOGGED_IN = "Not logged in · Please run /login"


def _usage(inp: int, out: int, write: int = 0, read: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "service_tier": "standard",
    }


def _init() -> None:
    key = "ANTHROPIC_API_KEY" if os.environ.get("ANTHROPIC_API_KEY") else "none"
    emit({
        "type": "system", "subtype": "init", "cwd": str(Path.cwd()), "session_id": SESSION,
        "tools": ["Bash", "Edit", "Read", "Write"], "mcp_servers": [], "model": MODEL,
        "permissionMode": "acceptEdits", "apiKeySource": key, "claude_code_version": "2.1.197",
        "uuid": str(uuid.uuid4()),
    })  # fmt: skip


def _assistant(
    msg_id: str, block: dict[str, Any], usage: dict[str, Any], error: str | None = None
) -> None:
    model = "<synthetic>" if error else MODEL
    message = {
        "id": msg_id, "type": "message", "role": "assistant", "model": model,
        "content": [block], "stop_reason": None, "usage": usage,
    }  # fmt: skip
    event: dict[str, Any] = {
        "type": "assistant", "message": message, "parent_tool_use_id": None,
        "session_id": SESSION, "uuid": str(uuid.uuid4()),
    }  # fmt: skip
    if error:
        event["error"] = error
    emit(event)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _result(text: str | None, *, cost: float, usage: dict[str, Any], **extra: Any) -> None:
    event: dict[str, Any] = {
        "type": "result", "subtype": extra.pop("subtype", "success"),
        "is_error": extra.pop("is_error", False), "api_error_status": None, "duration_ms": 1200,
        "num_turns": 2,
    }  # fmt: skip
    if text is not None:
        event["result"] = text
    event.update(session_id=SESSION, total_cost_usd=cost, usage=usage, **extra)
    emit(event)


def succeed(*, quote_errors: bool = False) -> int:
    _init()
    usage_1 = _usage(1_200, 80, write=5_000)
    intro = "I'll write the notes file."
    if quote_errors:
        intro += " Users see 'Credit balance is too low' or 'Not logged in · Please run /login'."
    _assistant("msg_01", _text(intro), usage_1)
    tool = {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "Write",
        "input": {"file_path": SUCCESS_FILE},
    }
    _assistant("msg_01", tool, usage_1)  # same message, same usage: charged once
    write_success_file()
    output = "File created. rate limit: none; Invalid API key handling untouched."
    output += os.environ.get("FAKE_AGENT_ECHO", "")  # a tool that printed something secret
    emit({
        "type": "user", "session_id": SESSION, "parent_tool_use_id": None,
        "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": output},
        ]},
    })  # fmt: skip
    _assistant("msg_02", _text(f"Wrote {SUCCESS_FILE}."), _usage(50, 30, read=6_200))
    total = _usage(1_250, 110, write=5_000, read=6_200)
    _result(f"Wrote {SUCCESS_FILE}.", cost=0.0421, usage=total)
    return 0


def fail() -> int:
    _init()
    _assistant("msg_01", _text("Trying."), _usage(100, 10))
    _result(
        None, cost=0.0004, usage=_usage(100, 10), subtype="error_during_execution", is_error=True
    )
    return 1


def budget() -> int:
    _init()
    write_partial_file()
    n = 0
    while True:
        n += 1
        _assistant(f"msg_{n:04d}", _text(f"step {n}"), dict(BUDGET_USAGE))
        time.sleep(delay())


def api_error(error: str, text: str, status: int) -> int:
    _init()
    _assistant(str(uuid.uuid4()), _text(text), _usage(0, 0), error=error)
    _result(text, cost=0, usage=_usage(0, 0), is_error=True, api_error_status=status)
    return 1


def auth_retry() -> int:
    _init()
    for attempt in range(1, 11):
        emit({
            "type": "system", "subtype": "api_retry", "attempt": attempt, "max_retries": 10,
            "retry_delay_ms": 500, "error_status": 401, "error": "authentication_failed",
            "session_id": SESSION, "uuid": str(uuid.uuid4()),
        })  # fmt: skip
        time.sleep(delay())
    return api_error("authentication_failed", "Invalid API key · Fix external API key", 401)


def credit_plain() -> int:
    """A plain-text error and exit 0: only the runner's classifier can tell."""
    sys.stderr.write("Credit balance is too low\n")
    return 0


def max_budget() -> int:
    _init()
    _assistant("msg_01", _text("Working."), _usage(1_000, 100))
    _result(
        None, cost=1.02, usage=_usage(1_000, 100), subtype="error_max_budget_usd", is_error=True
    )
    return 1


def linger() -> int:
    """Finish, then never exit (a CLI held open by a child, say an MCP server)."""
    succeed()
    hang()
    return 0


def timeout() -> int:
    _init()
    hang()
    return 0


def crashed() -> int:
    _init()
    _assistant("msg_01", _text("Working."), _usage(100, 10))
    crash()
    return 1


SCENARIOS: dict[str, Callable[[], int]] = {
    "succeed": succeed,
    "mentions": lambda: succeed(quote_errors=True),
    "fail": fail,
    "budget": budget,
    "timeout": timeout,
    "linger": linger,
    "crash": crashed,
    "credit": lambda: api_error("billing_error", "Credit balance is too low", 400),
    "auth": lambda: api_error("authentication_failed", NOT_LOGGED_IN, 401),
    "auth_retry": auth_retry,
    "credit_plain": credit_plain,
    "rate_limited": lambda: api_error(
        "rate_limit", "API Error: Request rejected (429) · rate limit exceeded", 429
    ),
    "max_budget": max_budget,
}


def main(argv: list[str]) -> int:
    needed = ("-p", "--output-format", "stream-json", "--verbose")
    if not all(flag in argv for flag in needed):
        sys.stderr.write(
            "Error: When using --print, --output-format=stream-json requires --verbose\n"
        )
        return 1
    prompt = sys.stdin.read()
    record(argv, prompt)
    if not prompt.strip():
        sys.stderr.write(
            "Error: Input must be provided either through stdin or as a prompt argument\n"
        )
        return 1
    return SCENARIOS[scenario()]()
