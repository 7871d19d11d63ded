from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hydra.runner import ProcessRegistry, Runner, RunnerConfig
from tests.runner._support import (
    STUBBORN_TREE,
    FakeClock,
    ProcessProbe,
    RecordingRegistry,
    RecordingSink,
    write_script,
)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> Iterator[RecordingRegistry]:
    reg = RecordingRegistry()
    yield reg
    ProcessProbe.kill_groups(set(reg.seen))


@pytest.fixture
def make_runner(
    sink: RecordingSink, clock: FakeClock, registry: ProcessRegistry
) -> Callable[..., Runner]:
    """A runner on the fake clock and a private registry; keyword args tune its config."""

    def make(**config: object) -> Runner:
        return Runner(
            cost_sink=sink,
            clock=clock,
            config=RunnerConfig(**config),  # type: ignore[arg-type]
            registry=registry,
        )

    return make


@pytest.fixture
def scripts(tmp_path: Path) -> Callable[[str, str], str]:
    def make(name: str, body: str) -> str:
        return write_script(tmp_path, name, body)

    return make


@pytest.fixture
def stubborn_tree(tmp_path: Path) -> str:
    return write_script(tmp_path, "stubborn_tree.sh", STUBBORN_TREE)
