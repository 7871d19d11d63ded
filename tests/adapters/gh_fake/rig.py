"""A fake gh, a runner on a fake clock with a recording cost sink, and the adapters over them.

Also ``real_tool``: the path of a real executable the tests drive (``gh``, ``jq``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hydra.adapters.gh_changes import GhChanges
from hydra.adapters.gh_issues import GhIssues
from hydra.runner import EnvValue, Runner, RunnerConfig
from tests.adapters.gh_fake import FakeGh
from tests.runner._support import FakeClock, RecordingSink


@dataclass
class Rig:
    fake: FakeGh
    sink: RecordingSink
    clock: FakeClock
    runner: Runner

    def env(self, **extra: EnvValue) -> dict[str, EnvValue]:
        return {**self.fake.env(), **extra}

    def issues(self, *, env: Mapping[str, EnvValue] | None = None, **kw: Any) -> GhIssues:
        return GhIssues(self.fake.repo, self.runner, env=env or self.env(), **kw)

    def changes(self, *, env: Mapping[str, EnvValue] | None = None, **kw: Any) -> GhChanges:
        return GhChanges(self.fake.repo, self.runner, env=env or self.env(), **kw)

    def sources(self) -> list[str]:
        """The ``source`` of every cost record so far."""
        return [call.source for call in self.sink.calls]

    def argvs(self) -> list[list[str]]:
        """Every gh invocation's arguments so far."""
        return [call["argv"] for call in self.fake.calls()]


def make_rig(tmp_path: Path, *, files: Mapping[str, bytes] | None = None, **config: Any) -> Rig:
    """``config`` tunes the runner (``capture_head_bytes``…)."""
    sink, clock = RecordingSink(), FakeClock()
    runner = Runner(cost_sink=sink, clock=clock, config=RunnerConfig(**config))
    return Rig(FakeGh(tmp_path / "gh", files=files), sink, clock, runner)


def tools_required() -> bool:
    """Whether a missing real tool must fail the tests: in CI, or when asked explicitly."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("HYDRA_REQUIRE_REAL_TOOLS") == "1"


def real_tool(name: str) -> str:
    """``name``'s path on PATH; if absent, skip the test, or fail it where tools are required."""
    found = shutil.which(name)
    if found is None:
        if tools_required():
            pytest.fail(f"{name} is not installed but CI / HYDRA_REQUIRE_REAL_TOOLS=1 needs it")
        pytest.skip(f"{name} is not installed (CI and HYDRA_REQUIRE_REAL_TOOLS=1 fail instead)")
    return found
