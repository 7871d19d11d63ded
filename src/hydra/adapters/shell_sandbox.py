"""``ShellSandbox``: :class:`ports.SandboxPort` running each scenario with ``sh -c``.

Each scenario is one Runner call in the workdir under the scenario's own timeout, so it gets
the Runner's guarantees: its own process group, killed whole on timeout or cancellation, and
bounded output capture. Standard error is merged into standard output before the scenario's
command runs, so ``output_tail`` shows both in the order they were written.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from typing import Final

import anyio

from hydra.runner import Captured, Classifier, Runner, RunResult
from ports import PortError, PortInfo, SandboxPort, Scenario, ScenarioResult, ScenarioStatus

TAIL_BYTES: Final = 4_096
_EXIT_CODES_ONLY: Final = Classifier()
"""A test's output may say anything ("rate limit exceeded" in a failing test): only the exit
code counts, and nothing a scenario prints can raise a terminal auth or credit error."""
_MERGED: Final = 'exec 2>&1; exec "$0" -c "$1"'
"""The outer shell merges stderr into stdout, then becomes ``<shell> -c <command>``: the
command runs exactly as ``sh -c`` would run it (same ``$0``, same line numbers)."""


def _tail(captured: Captured, limit: int) -> str:
    kept = captured.head + captured.tail if captured.complete else captured.tail
    return kept[-limit:].decode(errors="replace") if limit > 0 else ""


class ShellSandbox(SandboxPort):
    """Runs scenario commands with ``<interpreter> -c`` (default ``sh``) through ``runner``.

    ``env`` adds variables to the Runner's allow-listed environment; ``source`` labels the
    cost records (default ``sandbox.shell``). A workdir that is not a directory raises
    ``PortError("not_found")`` before any scenario runs; everything else is a result.
    """

    def __init__(
        self,
        runner: Runner,
        *,
        interpreter: str = "sh",
        env: Mapping[str, str] | None = None,
        source: str = "sandbox.shell",
        tail_bytes: int = TAIL_BYTES,
    ) -> None:
        self._runner = runner
        self.interpreter = interpreter
        self._env = dict(env or {})
        self.source = source
        self.tail_bytes = tail_bytes

    def info(self) -> PortInfo:
        found = shutil.which(self.interpreter)
        if found is None:
            return PortInfo("shell", "unconfigured", f"{self.interpreter!r} is not on PATH")
        return PortInfo("shell", "configured", found)

    async def run_scenarios(
        self, scenarios: Sequence[Scenario], *, workdir: str
    ) -> list[ScenarioResult]:
        if not await anyio.Path(workdir).is_dir():
            raise PortError("not_found", f"workdir {workdir!r} is not a directory", port="sandbox")
        return [await self._run(scenario, workdir) for scenario in scenarios]

    async def _run(self, scenario: Scenario, workdir: str) -> ScenarioResult:
        timeout = scenario.timeout_s
        if not (timeout > 0 and math.isfinite(timeout)):
            return self._error(scenario, f"timeout_s must be a positive number, got {timeout!r}")
        try:
            result = await self._runner.run(
                [self.interpreter, "-c", _MERGED, self.interpreter, scenario.command],
                source=self.source,
                timeout=timeout,
                cwd=workdir,
                env=self._env,
                classifier=_EXIT_CODES_ONLY,
            )
        except ValueError as exc:  # a NUL in the command, say: it cannot be run at all
            return self._error(scenario, f"could not start: {exc}")
        return self._result(scenario, result)

    def _result(self, scenario: Scenario, result: RunResult) -> ScenarioResult:
        output = _tail(result.stdout, self.tail_bytes)
        status: ScenarioStatus
        if result.status == "timeout":
            status = "timeout"
        elif result.status == "stopped":  # the daemon stopped every process (shutdown)
            status = "error"
            output = (output + "\n" if output else "") + f"stopped: {result.reason}"
        elif result.exit_code is not None:
            status = "passed" if result.exit_code == scenario.expected_exit else "failed"
        elif result.signal is not None:
            status = "failed"  # the shell itself died from a signal it did not expect
        else:  # never started (shell missing, workdir gone) or stopped by the daemon
            status = "error"
            output = (output + "\n" if output else "") + f"could not run: {result.reason}"
        return ScenarioResult(
            name=scenario.name,
            status=status,
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            output_tail=output[-self.tail_bytes :] if self.tail_bytes > 0 else "",
        )

    @staticmethod
    def _error(scenario: Scenario, why: str) -> ScenarioResult:
        return ScenarioResult(scenario.name, "error", None, 0.0, why)
