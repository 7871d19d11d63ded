"""A fake ``codex exec --json -`` and ``codex login status``: the documented JSONL events.

Event shapes follow codex's ``docs/exec.md`` and ``exec_events.rs`` (``thread.started``,
``turn.started``, ``item.started`` / ``item.completed`` with ``reasoning``,
``command_execution``, ``file_change``, ``agent_message`` items, ``turn.completed`` with
``usage``, ``turn.failed``, ``error``); the error texts were read off codex-cli 0.169.0 with a
local stand-in for the API (see ``tests/adapters/test_agent_real.py``).

Scenarios (``FAKE_AGENT_SCENARIO``): ``succeed``, ``fail``, ``timeout``, ``budget``, ``crash``,
``credit``, ``auth`` (``login status`` says "Not logged in"; ``exec`` gets a 401),
``rate_limited``, ``reconnect`` (retries a 401 once, then succeeds).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

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

BUDGET_OUTPUT_CHARS = 90_000
"""Each ``budget`` command prints this much: 30k estimated input tokens for the next request."""
NOT_TRUSTED = "Not inside a trusted directory and --skip-git-repo-check was not specified."
UNAUTHORIZED = (
    "unexpected status 401 Unauthorized: Incorrect API key provided: sk-dummy. You can find "
    "your API key at https://platform.openai.com/account/api-keys., "
    "url: https://api.openai.com/v1/responses"
)


def _start() -> None:
    emit({"type": "thread.started", "thread_id": str(uuid.uuid4())})
    emit({"type": "turn.started"})


def _item(kind: str, **fields: object) -> dict[str, object]:
    return {"id": f"item_{uuid.uuid4().hex[:6]}", "type": kind, **fields}


def _command(command: str, output: str) -> None:
    item = _item("command_execution", command=command, aggregated_output="", status="in_progress")
    item["exit_code"] = None
    emit({"type": "item.started", "item": item})
    done = {**item, "aggregated_output": output, "exit_code": 0, "status": "completed"}
    emit({"type": "item.completed", "item": done})


def _fail(message: str) -> int:
    emit({"type": "error", "message": message})
    emit({"type": "turn.failed", "error": {"message": message}})
    return 1


def succeed(*, reconnect: bool = False) -> int:
    _start()
    if reconnect:
        emit({"type": "error", "message": f"Reconnecting... 1/5 ({UNAUTHORIZED})"})
    emit({"type": "item.completed", "item": _item("reasoning", text="**Writing the notes**")})
    _command("bash -lc ls", "README.md\n")
    write_success_file()
    change = {"path": SUCCESS_FILE, "kind": "add"}
    emit(
        {
            "type": "item.completed",
            "item": _item("file_change", changes=[change], status="completed"),
        }
    )
    message = f"Wrote {SUCCESS_FILE}."
    emit({"type": "item.completed", "item": _item("agent_message", text=message)})
    usage = {"input_tokens": 24_763, "cached_input_tokens": 24_448, "output_tokens": 122}
    emit({"type": "turn.completed", "usage": usage})
    return 0


def budget() -> int:
    _start()
    write_partial_file()
    n = 0
    while True:
        n += 1
        _command(f"bash -lc 'cat part{n}'", "x" * BUDGET_OUTPUT_CHARS)
        time.sleep(delay())


def timeout() -> int:
    _start()
    hang()
    return 0


def crashed() -> int:
    _start()
    crash()
    return 1


def _failing(message: str) -> Callable[[], int]:
    def run() -> int:
        _start()
        return _fail(message)

    return run


SCENARIOS: dict[str, Callable[[], int]] = {
    "succeed": succeed,
    "reconnect": lambda: succeed(reconnect=True),
    "fail": _failing("stream error: the model produced invalid output"),
    "budget": budget,
    "timeout": timeout,
    "crash": crashed,
    "credit": _failing("Quota exceeded. Check your plan and billing details."),
    "auth": _failing(UNAUTHORIZED),
    "rate_limited": _failing("exceeded retry limit, last status: 429 Too Many Requests"),
}


def login_status() -> int:
    if scenario() == "auth":
        print("Not logged in")
        return 1
    print("Logged in using an API key - sk-dummy***56789")
    return 0


def main(argv: list[str]) -> int:
    if argv[:2] == ["login", "status"]:
        return login_status()
    if argv[:1] != ["exec"] or "--json" not in argv:
        sys.stderr.write("fake codex: only `exec --json` and `login status` are implemented\n")
        return 2
    if "--skip-git-repo-check" not in argv and not (Path.cwd() / ".git").exists():
        sys.stderr.write(NOT_TRUSTED + "\n")
        return 1
    prompt = sys.stdin.read() if argv[-1] == "-" else argv[-1]
    record(argv, prompt)
    return SCENARIOS[scenario()]()
