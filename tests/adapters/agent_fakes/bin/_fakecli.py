"""What the fake agent CLIs share (stdlib only: they run as separate processes).

A fake is driven by its environment (the adapter passes it through ``extra_env``):

* ``FAKE_AGENT_SCENARIO``: what the run does (each fake lists its scenarios);
* ``FAKE_AGENT_RECORD``: a file to write ``{"argv", "stdin", "env"}`` into, for assertions;
* ``FAKE_AGENT_PIDS``: a file each spawned helper process appends its pid to;
* ``FAKE_AGENT_EVENT_DELAY``: seconds between streamed events (default 0.01).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SUCCESS_FILE = "AGENT_NOTES.md"
SUCCESS_TEXT = "done\n"
PARTIAL_FILE = "PARTIAL_WORK.md"
RECORDED_ENV = (
    "ANTHROPIC_API_KEY", "CODEX_API_KEY", "OPENAI_API_KEY", "HOME", "PATH",
    "GIT_CEILING_DIRECTORIES",
)  # fmt: skip


def scenario() -> str:
    return os.environ.get("FAKE_AGENT_SCENARIO", "succeed")


def delay() -> float:
    return float(os.environ.get("FAKE_AGENT_EVENT_DELAY", "0.01"))


def emit(event: dict[str, Any]) -> None:
    """One compact JSON line, flushed at once (as the real CLIs stream)."""
    sys.stdout.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def record(argv: list[str], stdin: str) -> None:
    path = os.environ.get("FAKE_AGENT_RECORD")
    if path:
        env = {name: os.environ[name] for name in RECORDED_ENV if name in os.environ}
        Path(path).write_text(json.dumps({"argv": argv, "stdin": stdin, "env": env}))


def write_success_file() -> None:
    Path(SUCCESS_FILE).write_text(SUCCESS_TEXT)


def write_partial_file() -> None:
    Path(PARTIAL_FILE).write_text("started\n")


def spawn_helper() -> None:
    """A grandchild in the same process group, as a real agent's tool call would leave."""
    child = subprocess.Popen(["sleep", "3600"])
    path = os.environ.get("FAKE_AGENT_PIDS")
    if path:
        with Path(path).open("a") as out:
            out.write(f"{child.pid}\n")


def hang() -> None:
    """Run past any wall clock, with a helper process, until killed."""
    spawn_helper()
    time.sleep(3600)


def crash() -> None:
    """Die from a signal the runner did not send (no core file)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.kill(os.getpid(), signal.SIGABRT)
    time.sleep(5)
