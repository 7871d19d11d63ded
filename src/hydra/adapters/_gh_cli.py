"""`GhCli`: one repository's ``gh`` calls through the runner, with output read line by line.

Every call goes through :meth:`hydra.runner.Runner.run` with :data:`GH_CLASSIFIER`, a cost
``source`` of ``<prefix>:<operation>`` and the adapter's timeout. Text that can be long
(bodies, comments) goes to gh on stdin (``--body-file -``), never on the command line.

JSON is requested with a ``--jq`` program that prints one value per line (``.[]``), and the
lines are collected by an ``on_stdout_line`` hook, so outputs far larger than the runner's
capture are read whole, up to ``max_output_bytes``. A failed attempt's lines are dropped at
the attempt boundary (the runner's per-attempt ``usage_probe``), so a retried call never
mixes two attempts' output.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from typing import Any, Final

from hydra.adapters._gh_errors import GH_CLASSIFIER, Rule, port_error
from hydra.runner import EnvValue, Runner, RunResult, StdoutLine, Usage
from ports import PortError, PortInfo

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_QUIET_ENV: Final[Mapping[str, EnvValue]] = {
    "GH_PROMPT_DISABLED": "1",
    "GH_NO_UPDATE_NOTIFIER": "1",
    "NO_COLOR": "1",
    "CLICOLOR": "0",
}
"""gh never prompts, never checks for updates in the background, never colours its output."""

JsonObject = dict[str, Any]
EACH_JQ: Final = ".[]"
"""The ``--jq`` program that prints a JSON list one item per line."""


def check_repo(repo: str) -> str:
    """``repo`` if it is ``owner/name``, else ``ValueError``."""
    if not _REPO.fullmatch(repo) or repo.split("/")[1] in (".", ".."):
        raise ValueError(f"repository must be 'owner/name', got {repo!r}")
    return repo


class _Lines:
    """Collects one call's stdout lines; stops the child once they pass ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[bytes] = []
        self.size = 0
        self.too_long = False
        """A line was longer than the runner's line limit."""
        self.cut = False
        """The output went past ``limit`` (or a line was too long) and the child was stopped."""

    async def feed(self, line: StdoutLine) -> bool:
        if line.truncated:
            self.too_long = self.cut = True
            return False
        if self.size + len(line) + 1 > self.limit:
            self.cut = True
            return False
        self.size += len(line) + 1
        self.lines.append(bytes(line))
        return True

    def attempt_done(self, result: RunResult) -> Usage | None:
        """Drop a failed attempt's lines before a retry (gh api prints error bodies)."""
        if not (result.ok or (self.cut and result.status == "stopped")):
            self.lines.clear()
            self.size = 0
            self.too_long = self.cut = False
        return None


class GhCli:
    """Runs ``gh`` for one repository; maps failures to `PortError` (``port`` names the port).

    ``env`` is added to every child's environment (``GH_TOKEN`` as a `Secret`, ``GH_HOST``,
    ``GH_CONFIG_DIR``, a ``PATH`` that finds ``executable``); :class:`hydra.runner.AuthFailed`
    from the runner propagates untouched.
    """

    def __init__(
        self,
        repo: str,
        runner: Runner,
        *,
        port: str,
        executable: str = "gh",
        source: str | None = None,
        timeout_s: float = 60.0,
        env: Mapping[str, EnvValue] | None = None,
        max_output_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.repo = check_repo(repo)
        self.port = port
        self.executable = executable
        self.source = source or f"gh:{repo}"
        self.timeout_s = timeout_s
        self.max_output_bytes = max_output_bytes
        self._runner = runner
        self._env: dict[str, EnvValue] = {**_QUIET_ENV, **(env or {})}

    @property
    def repo_flag(self) -> str:
        return f"--repo={self.repo}"

    def info(self) -> PortInfo:
        """``gh`` and the repository; ``unconfigured`` when the executable cannot be found."""
        path = self._env.get("PATH")
        found = shutil.which(self.executable, path=path if isinstance(path, str) else None)
        if found is None:
            why = f"{self.executable!r} not found on PATH (install the GitHub CLI)"
            return PortInfo(implementation="gh", state="unconfigured", detail=why)
        return PortInfo(implementation="gh", state="configured", detail=f"{self.repo} via {found}")

    async def call(
        self,
        args: Sequence[str],
        *,
        op: str,
        stdin: str | None = None,
        lines: _Lines | None = None,
    ) -> RunResult:
        """Run ``gh <args>`` once (plus the runner's auth retries); never raises `PortError`."""
        return await self._runner.run(
            [self.executable, *args],
            source=f"{self.source}:{op}",
            timeout=self.timeout_s,
            env=self._env,
            stdin=None if stdin is None else stdin.encode(),
            classifier=GH_CLASSIFIER,
            on_stdout_line=lines.feed if lines else None,
            usage_probe=lines.attempt_done if lines else None,
        )

    def fail(self, result: RunResult, op: str, rules: Sequence[Rule] = ()) -> PortError:
        return port_error(result, port=self.port, what=op, rules=rules)

    async def run(
        self, args: Sequence[str], *, op: str, stdin: str | None = None, rules: Sequence[Rule] = ()
    ) -> RunResult:
        """Run ``gh <args>``; `PortError` unless it succeeded."""
        result = await self.call(args, op=op, stdin=stdin)
        if not result.ok:
            raise self.fail(result, op, rules)
        return result

    async def json_lines(
        self, args: Sequence[str], *, op: str, rules: Sequence[Rule] = ()
    ) -> list[JsonObject]:
        """The JSON objects gh prints one per line (pass a ``--jq`` that does so)."""
        lines = _Lines(self.max_output_bytes)
        result = await self.call(args, op=op, lines=lines)
        if lines.cut:
            why = (
                "an output line is longer than the runner's line limit"
                if lines.too_long
                else f"the output is larger than {lines.limit} bytes"
            )
            raise PortError("failed", f"gh {op}: {why}", port=self.port)
        if not result.ok:
            raise self.fail(result, op, rules)
        return [_object(line, op, self.port) for line in lines.lines if line.strip()]

    async def text(self, args: Sequence[str], *, op: str, max_bytes: int) -> tuple[str, bool]:
        """gh's stdout as text, whole lines up to ``max_bytes``; ``True`` when it was cut."""
        lines = _Lines(max(max_bytes, 0))
        result = await self.call(args, op=op, lines=lines)
        if not (result.ok or (lines.cut and result.status == "stopped")):
            raise self.fail(result, op)
        kept = b"".join(line + b"\n" for line in lines.lines)
        return kept.decode(errors="replace"), lines.cut


def _object(line: bytes, op: str, port: str) -> JsonObject:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise PortError("failed", f"gh {op}: output is not JSON: {exc}", port=port) from None
    if not isinstance(value, dict):
        what = type(value).__name__
        raise PortError("failed", f"gh {op}: expected JSON objects, got {what}", port=port)
    return value
