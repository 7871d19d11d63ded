"""``build_world``: the ports settings choose for the ``github``, ``local`` and ``fake`` worlds."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hydra.adapters.gh_changes import GhChanges
from hydra.adapters.gh_issues import GhIssues
from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.host import PsutilHost
from hydra.adapters.inbox import LocalInbox
from hydra.adapters.local_changes import LocalChanges
from hydra.adapters.metered import MeteredAgent
from hydra.adapters.shell_sandbox import ShellSandbox
from hydra.adapters.worlds import WorldError, build_world
from hydra.fatal import FatalSignal
from hydra.runner import Runner
from hydra.settings import HydraSettings, load_settings, managed_repos
from hydra.statefile import DurabilityError
from ports import World
from tests.helpers.daemon import run_cli
from tests.helpers.faults import failing_fsync
from tests.runner._support import FakeClock, RecordingSink


@pytest.fixture(autouse=True)
def _no_hydra_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``HYDRA_*`` from the environment; these tests set everything in a file."""
    for key in list(os.environ):
        if key.startswith("HYDRA_"):
            monkeypatch.delenv(key)


def _settings(tmp_path: Path, config: str) -> HydraSettings:
    (tmp_path / "hydra.toml").write_text(config)
    return load_settings(cwd=tmp_path)


def _build(tmp_path: Path, settings: HydraSettings, fatal: FatalSignal | None = None) -> World:
    sink = RecordingSink()
    return build_world(
        settings,
        tmp_path / ".hydra",
        managed_repos(settings, cwd=tmp_path),
        runner=Runner(cost_sink=sink, clock=FakeClock()),
        cost_sink=sink,
        fatal=fatal,
    )


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def test_github_world_without_a_github_name_is_a_clear_error(tmp_path: Path) -> None:
    _git_repo(tmp_path / "app")
    settings = _settings(tmp_path, 'world = "github"\n[repos.app]\npath = "app"\n')
    with pytest.raises(WorldError) as caught:
        _build(tmp_path, settings)
    message = str(caught.value)
    assert message == 'repos.app.github: required in the github world (github = "owner/name")'
    assert "\n" not in message


def test_github_world_names_the_repository_that_lacks_it(tmp_path: Path) -> None:
    for name in ("api", "web"):
        _git_repo(tmp_path / name)
    settings = _settings(
        tmp_path,
        'world = "github"\n'
        '[repos.api]\npath = "api"\ngithub = "acme/api"\n'
        '[repos.web]\npath = "web"\n',
    )
    with pytest.raises(WorldError, match=r"^repos\.web\.github: required"):
        _build(tmp_path, settings)


def test_github_world_with_no_repos_table_says_what_to_add(tmp_path: Path) -> None:
    checkout = _git_repo(tmp_path / "shop")
    settings = _settings(checkout, 'world = "github"\n')
    with pytest.raises(WorldError) as caught:
        _build(checkout, settings)
    message = str(caught.value)
    assert "[repos.shop]" in message
    assert 'github = "owner/name"' in message
    assert str(checkout.resolve()) in message
    assert "\n" not in message


def test_github_world_with_names_uses_gh_for_issues_and_changes(tmp_path: Path) -> None:
    for name in ("api", "web"):
        _git_repo(tmp_path / name)
    settings = _settings(
        tmp_path,
        'world = "github"\n'
        '[repos.api]\npath = "api"\ngithub = "acme/api"\n'
        '[repos.web]\npath = "web"\ngithub = "acme/web-site"\n',
    )
    world = _build(tmp_path, settings)
    assert world.kind == "github"
    assert list(world.repos) == ["api", "web"]
    for name, slug in (("api", "acme/api"), ("web", "acme/web-site")):
        ports = world.repo(name)
        assert isinstance(ports.issues, GhIssues)
        assert isinstance(ports.changes, GhChanges)
        assert isinstance(ports.workspace, GitWorkspace)
        assert isinstance(ports.sandbox, ShellSandbox)
        for info in (ports.issues.info(), ports.changes.info()):
            assert info.implementation == "gh"
            if info.state == "configured":
                assert info.detail.startswith(f"{slug} via ")
    assert isinstance(world.host, PsutilHost)


def test_github_names_are_validated_by_settings(tmp_path: Path) -> None:
    from hydra.settings import SettingsError

    with pytest.raises(SettingsError, match=r"repos\.app\.github"):
        _settings(tmp_path, 'world = "github"\n[repos.app]\ngithub = "not a slug"\n')


def test_local_world_is_the_default_and_uses_inbox_and_branches(tmp_path: Path) -> None:
    checkout = _git_repo(tmp_path / "svc")
    world = _build(checkout, load_settings(cwd=checkout))
    assert world.kind == "local"
    ports = world.repo("svc")
    assert isinstance(ports.issues, LocalInbox)
    assert isinstance(ports.changes, LocalChanges)
    assert isinstance(ports.workspace, GitWorkspace)
    assert ports.issues.info().state == "configured"


@pytest.mark.anyio
async def test_local_world_inbox_pulls_the_daemons_fatal_signal_on_a_failed_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = _git_repo(tmp_path / "svc")
    fatal = FatalSignal()
    world = _build(checkout, load_settings(cwd=checkout), fatal)
    failing_fsync(monkeypatch, str(checkout / ".hydra" / "inbox"))
    with pytest.raises(DurabilityError):
        await world.repo("svc").issues.create_issue("Disk trouble")
    assert isinstance(fatal.error, DurabilityError)


def test_local_world_ignores_a_missing_github_name(tmp_path: Path) -> None:
    _git_repo(tmp_path / "app")
    settings = _settings(tmp_path, '[repos.app]\npath = "app"\n')
    world = _build(tmp_path, settings)
    assert list(world.repos) == ["app"]


def test_fake_world_meters_its_agent(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 'world = "fake"\n')
    world = _build(tmp_path, settings)
    assert world.kind == "fake"
    assert isinstance(world.agent, MeteredAgent)
    infos: Mapping[str, Any] = world.port_infos()
    assert all(info.state == "configured" for info in infos.values()), infos


def test_hydra_run_in_the_github_world_without_names_stops_with_one_line(tmp_path: Path) -> None:
    checkout = _git_repo(tmp_path / "shop")
    (checkout / "hydra.toml").write_text('world = "github"\n')
    done = run_cli(["run", "--port", "0"], cwd=checkout)
    assert done.returncode == 2
    assert done.stderr.startswith('hydra: config error: world = "github" needs')
    assert "[repos.shop]" in done.stderr
    assert done.stderr.count("\n") == 1
