"""find_agent: the adapter settings ask for, or the first agent CLI on the search path."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydra.adapters.agent_claude import ClaudeAgent
from hydra.adapters.agent_codex import CodexAgent
from hydra.adapters.agent_select import find_agent
from hydra.adapters.unconfigured import UnconfiguredAgent
from ports import AgentLimits
from tests.adapters.agent_fakes.support import FAKE_BIN, AgentRig

pytestmark = pytest.mark.anyio


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AgentRig]:
    rig = AgentRig(tmp_path)
    yield rig
    rig.close()


def bin_dir(tmp_path: Path, *names: str) -> str:
    directory = tmp_path / ("bin-" + "-".join(names))
    directory.mkdir()
    for name in names:
        shutil.copy2(FAKE_BIN / name, directory / name)
        shutil.copy2(FAKE_BIN / f"fake_{name}.py", directory / f"fake_{name}.py")
        shutil.copy2(FAKE_BIN / "_fakecli.py", directory / "_fakecli.py")
    return str(directory)


@pytest.mark.parametrize(
    ("found", "kind"),
    [
        (("claude", "codex"), ClaudeAgent),
        (("codex",), CodexAgent),
        (("claude",), ClaudeAgent),
    ],
)
def test_auto_takes_the_first_cli_found(
    rig: AgentRig, tmp_path: Path, found: tuple[str, ...], kind: type
) -> None:
    agent = find_agent(
        "auto",
        runner=rig.runner,
        transcripts_dir=rig.transcripts,
        search_path=bin_dir(tmp_path, *found),
    )
    assert isinstance(agent, kind)
    assert agent.info().state == "configured"


async def test_auto_with_nothing_found_is_unconfigured(rig: AgentRig, tmp_path: Path) -> None:
    agent = find_agent(
        "auto", runner=rig.runner, transcripts_dir=rig.transcripts, search_path=str(tmp_path)
    )
    assert isinstance(agent, UnconfiguredAgent)
    info = agent.info()
    assert info.state == "unconfigured"
    assert "'claude'" in info.detail
    assert "'codex'" in info.detail
    result = await agent.run(
        prompt="x", workdir=str(rig.workdir), limits=AgentLimits(wall_clock_s=1), source="t"
    )
    assert result.status == "unconfigured"


def test_none_is_unconfigured_even_with_clis_around(rig: AgentRig) -> None:
    agent = find_agent(
        "none", runner=rig.runner, transcripts_dir=rig.transcripts, search_path=str(FAKE_BIN)
    )
    assert isinstance(agent, UnconfiguredAgent)
    assert "none" in agent.info().detail


@pytest.mark.parametrize(("preference", "kind"), [("claude", ClaudeAgent), ("codex", CodexAgent)])
def test_an_explicit_choice_is_kept_and_says_when_its_cli_is_missing(
    rig: AgentRig, tmp_path: Path, preference: str, kind: type
) -> None:
    agent = find_agent(
        preference,  # type: ignore[arg-type]
        runner=rig.runner,
        transcripts_dir=rig.transcripts,
        search_path=str(tmp_path),
        model="m-1",
    )
    assert isinstance(agent, kind)
    assert agent.model == "m-1"
    info = agent.info()
    assert (info.implementation, info.state) == (preference, "unconfigured")
    assert preference in info.detail
