"""The GitHub adapters against the REAL ``gh`` binary, with no credentials and no network.

HOME and GH_CONFIG_DIR point at empty temp dirs and no token reaches gh, so every call stops
before the network: gh must come out ``auth_failed`` (raised as ``AuthFailed``), never
``crashed`` nor a generic failure. These tests skip only where gh is not installed, and
never in CI: with ``CI`` set or ``HYDRA_REQUIRE_REAL_TOOLS=1`` a missing gh fails them
(``scripts/system-deps`` installs it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

import ports
from hydra.adapters._gh_errors import NOT_LOGGED_IN
from hydra.adapters.gh_changes import GhChanges
from hydra.adapters.gh_issues import GhIssues
from hydra.runner import AuthFailed, EnvValue, Runner, Secret
from ports import PortError
from tests.adapters.gh_fake.rig import real_tool
from tests.runner._support import FakeClock, RecordingSink

pytestmark = pytest.mark.anyio

GH_2_23_NOT_LOGGED_IN = (
    f"{NOT_LOGGED_IN}\n"
    "Alternatively, populate the GH_TOKEN environment variable with a GitHub API"
    " authentication token.\n"
)
"""What gh 2.23.0 (Debian) prints, exit code 4, run with an empty config and no token."""

_TOKENS = ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GH_HOST")


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real gh's path; a missing gh skips locally and fails in CI."""
    for name in _TOKENS:
        monkeypatch.delenv(name, raising=False)
    return real_tool("gh")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, EnvValue]:
    """An empty gh configuration: not logged in to anything."""
    dirs = {name: tmp_path / name for name in ("home", "gh-config", "xdg")}
    for path in dirs.values():
        path.mkdir()
    return {
        "HOME": str(dirs["home"]),
        "GH_CONFIG_DIR": str(dirs["gh-config"]),
        "XDG_CONFIG_HOME": str(dirs["xdg"]),
    }


@dataclass
class Bench:
    runner: Runner
    clock: FakeClock
    sink: RecordingSink


@pytest.fixture
def bench() -> Bench:
    sink, clock = RecordingSink(), FakeClock()
    return Bench(Runner(cost_sink=sink, clock=clock), clock, sink)


async def test_gh_prints_the_documented_not_logged_in_text(
    gh: str, env: dict[str, EnvValue], bench: Bench
) -> None:
    argv = [gh, "issue", "list", "--repo=acme/app", "--json=number"]
    with anyio.fail_after(30):
        result = await bench.runner.run(argv, source="test", timeout=20, env=env)
        version = await bench.runner.run([gh, "--version"], source="test", timeout=20, env=env)
    assert result.exit_code == 4
    assert result.stderr.text().splitlines()[0] == NOT_LOGGED_IN
    if version.stdout.text().startswith("gh version 2.23.0 "):
        assert result.stderr.text() == GH_2_23_NOT_LOGGED_IN


CALLS: dict[str, Callable[[GhIssues, GhChanges], Awaitable[object]]] = {
    "list_issues": lambda i, c: i.list_issues(labels=["bug"]),
    "get_issue": lambda i, c: i.get_issue("1"),
    "create_issue": lambda i, c: i.create_issue("Title", "a body read from stdin"),
    "comment": lambda i, c: i.comment("1", "hello"),
    "list_open": lambda i, c: c.list_open(),
    "changed_files": lambda i, c: c.changed_files("1"),
    "diff": lambda i, c: c.diff("1"),
    "post_review": lambda i, c: c.post_review("1", "approve", "ok"),
    "merge": lambda i, c: c.merge("1"),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_not_logged_in_is_auth_failed_at_once(
    gh: str, env: dict[str, EnvValue], bench: Bench, method: str
) -> None:
    issues = GhIssues("acme/app", bench.runner, executable=gh, env=env)
    changes = GhChanges("acme/app", bench.runner, executable=gh, env=env)
    with anyio.fail_after(30), pytest.raises(AuthFailed) as caught:
        await CALLS[method](issues, changes)
    assert isinstance(caught.value, ports.AuthFailed)
    result = caught.value.result
    assert (result.status, result.exit_code, result.attempts) == ("auth_failed", 4, 1)
    assert NOT_LOGGED_IN in result.stderr.text()
    assert bench.clock.sleeps == []  # terminal: no retry can log in
    assert len(bench.sink.calls) == 1
    assert bench.sink.calls[0].source.startswith("gh:acme/app:")


async def test_an_unreachable_host_is_a_failure_not_an_auth_failure(
    gh: str, env: dict[str, EnvValue], bench: Bench
) -> None:
    offline = {
        **env,
        "GH_HOST": "hydra-test.invalid",  # RFC 2606: never resolves
        "GH_ENTERPRISE_TOKEN": Secret("not-a-real-token"),
    }
    issues = GhIssues("acme/app", bench.runner, executable=gh, env=offline)
    with anyio.fail_after(30), pytest.raises(PortError) as caught:
        await issues.list_issues()
    assert caught.value.kind == "failed"
    assert "error connecting to hydra-test.invalid" in str(caught.value)
    assert bench.clock.sleeps == []


def test_info_names_the_real_gh(gh: str) -> None:
    runner = Runner(cost_sink=RecordingSink())
    info = GhIssues("acme/app", runner).info()
    assert (info.implementation, info.state) == ("gh", "configured")
    assert info.detail == f"acme/app via {gh}"
