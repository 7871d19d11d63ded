"""A sandbox whose scenario results are scripted per scenario, or judged from the worktree."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fakes._clock import FakeClock
from fakes._files import Workdirs
from ports import PortError, PortInfo, SandboxPort, Scenario, ScenarioResult, ScenarioStatus

TAIL_CHARS = 4_096

Judge = Callable[[Scenario, Mapping[str, bytes]], "SandboxOutcome"]
"""Decides a scenario from the files of the workdir (empty when it is not a fake worktree)."""


@dataclass(frozen=True)
class SandboxOutcome:
    """How one scenario run ends. Build it with the class methods."""

    status: ScenarioStatus = "passed"
    exit_code: int | None = None
    """``None``: the scenario's ``expected_exit`` when passed, one more when failed."""
    output: str = ""
    duration_s: float = 0.1

    @classmethod
    def passed(cls, output: str = "ok") -> SandboxOutcome:
        return cls("passed", output=output)

    @classmethod
    def failed(
        cls, output: str = "assertion failed", *, exit_code: int | None = None
    ) -> SandboxOutcome:
        return cls("failed", exit_code=exit_code, output=output)

    @classmethod
    def timed_out(cls, output: str = "") -> SandboxOutcome:
        return cls("timeout", output=output)

    @classmethod
    def error(cls, output: str = "could not start the command") -> SandboxOutcome:
        return cls("error", output=output)


@dataclass(frozen=True)
class SandboxRun:
    """One call of ``run_scenarios``."""

    workdir: str
    scenarios: tuple[Scenario, ...]
    results: tuple[ScenarioResult, ...]


class FakeSandbox(SandboxPort):
    """:class:`ports.SandboxPort` with scripted results.

    Per scenario name, :meth:`script` queues outcomes that are used in turn; the last one
    sticks (``script("tests", failed(), passed())``: fail once, pass from then on).
    :meth:`judge` decides a scenario from the worktree's files instead. Anything else gets
    ``default``. With ``workdirs``, a workdir that is no fake worktree raises
    ``PortError("not_found")``; with a ``clock``, each scenario's duration passes on it.
    """

    def __init__(
        self,
        *,
        default: SandboxOutcome | None = None,
        workdirs: Workdirs | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        self.default = default or SandboxOutcome.passed()
        self._workdirs = workdirs
        self._clock = clock
        self._scripts: dict[str, deque[SandboxOutcome]] = {}
        self._judges: dict[str, Judge] = {}
        self._stuck: set[str] = set()
        """Scenarios whose last scripted outcome is repeating; a new script replaces it."""
        self.runs: list[SandboxRun] = []

    def info(self) -> PortInfo:
        return PortInfo(implementation="fake", state="configured", detail="scripted scenarios")

    async def run_scenarios(
        self, scenarios: Sequence[Scenario], *, workdir: str
    ) -> list[ScenarioResult]:
        files: Mapping[str, bytes] = {}
        if self._workdirs is not None:
            found = self._workdirs.files_at(workdir)
            if found is None:
                raise PortError("not_found", f"workdir {workdir!r} does not exist", port="sandbox")
            files = found
        results = [self._result(s, self._outcome(s, files)) for s in scenarios]
        self.runs.append(SandboxRun(workdir, tuple(scenarios), tuple(results)))
        return results

    # ------------------------------------------------------------------ for tests
    def script(self, name: str, *outcomes: SandboxOutcome) -> None:
        """Queue outcomes for scenario ``name``; the last one repeats until a new script."""
        if not outcomes:
            raise ValueError("script at least one outcome")
        self._judges.pop(name, None)
        queue = self._scripts.setdefault(name, deque())
        if name in self._stuck:
            queue.clear()
            self._stuck.discard(name)
        queue.extend(outcomes)

    def judge(self, name: str, decide: Judge) -> None:
        """Decide scenario ``name`` from the workdir's files at each run."""
        self._scripts.pop(name, None)
        self._stuck.discard(name)
        self._judges[name] = decide

    def results_for(self, name: str) -> list[ScenarioResult]:
        """Every result scenario ``name`` had, oldest first."""
        return [r for run in self.runs for r in run.results if r.name == name]

    # ------------------------------------------------------------------ internals
    def _outcome(self, scenario: Scenario, files: Mapping[str, bytes]) -> SandboxOutcome:
        judge = self._judges.get(scenario.name)
        if judge is not None:
            return judge(scenario, files)
        queue = self._scripts.get(scenario.name)
        if not queue:
            return self.default
        if len(queue) > 1:
            return queue.popleft()
        self._stuck.add(scenario.name)
        return queue[0]

    def _result(self, scenario: Scenario, outcome: SandboxOutcome) -> ScenarioResult:
        exit_code = outcome.exit_code
        if exit_code is None and outcome.status == "passed":
            exit_code = scenario.expected_exit
        elif exit_code is None and outcome.status == "failed":
            exit_code = scenario.expected_exit + 1
        duration = scenario.timeout_s if outcome.status == "timeout" else outcome.duration_s
        if self._clock is not None:
            self._clock.advance(duration)
        return ScenarioResult(
            name=scenario.name,
            status=outcome.status,
            exit_code=exit_code,
            duration_s=duration,
            output_tail=outcome.output[-TAIL_CHARS:],
        )
