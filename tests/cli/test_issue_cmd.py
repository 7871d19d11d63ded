"""``hydra issue …`` as an operator runs it: the real console script in a temp directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hydra.adapters.inbox import LocalInbox

HYDRA = shutil.which("hydra", path=str(Path(sys.executable).parent)) or "hydra"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    path.mkdir()
    return path


@pytest.fixture
def hydra(project: Path) -> Run:
    # Without COLUMNS, piped: full lines (the CLI fits its output to an exported COLUMNS).
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_") and k != "COLUMNS"}

    def run(
        *args: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None, rc: int = 0
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [HYDRA, "issue", *args],
            cwd=cwd or project,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == rc, (done.stdout, done.stderr)
        return done

    return run


def opened(number: int, data_dir: Path, repo: str, title: str) -> str:
    """What ``hydra issue new`` prints: the id, the repository and the inbox it wrote to."""
    return f"#{number} opened in {repo} ({(data_dir / 'inbox' / repo).resolve()}): {title}\n"


def test_new_list_show(hydra: Run, project: Path) -> None:
    out = hydra(
        "new", "Flaky test", "--body", "Fails 1 run in 10.", "--label", "bug", "--label", "ci"
    )
    assert out.stdout == opened(1, project / ".hydra", "proj", "Flaky test")
    assert (project / ".hydra" / "inbox" / "proj" / "1.json").is_file()
    hydra("new", "Second")
    listing = hydra("list").stdout.splitlines()
    assert listing[0].split() == ["ID", "STATE", "LABELS", "CREATED", "TITLE"]
    assert listing[1].startswith("1   open   bug, ci")
    assert listing[1].endswith("Flaky test")
    assert listing[2].endswith("Second")
    shown = hydra("show", "1").stdout
    assert shown.startswith("#1 Flaky test [open]\nlabels: bug, ci\ncreated ")
    assert "\nFails 1 run in 10.\n" in shown


def test_list_fits_the_terminal_width(hydra: Run) -> None:
    title = "The nightly build fails on the arm runners since the toolchain update " * 2
    hydra("new", title.strip(), "--label", "bug")
    for width in (80, 60):
        listing = hydra("list", extra_env={"COLUMNS": str(width)}).stdout.splitlines()
        assert all(len(line) <= width for line in listing), listing
        assert listing[0].split() == ["ID", "STATE", "LABELS", "CREATED", "TITLE"]
        assert listing[1].split()[:3] == ["1", "open", "bug"]
        assert listing[1].endswith("…")
    piped = hydra("list").stdout.splitlines()[1]  # without COLUMNS: cut at 60, as before
    assert piped.endswith("The nightly build fails on the arm runners since the tool...")


def test_json_output(hydra: Run) -> None:
    created = json.loads(hydra("new", "Escalation", "--label", "hydra-escalation", "--json").stdout)
    assert {k: created[k] for k in ("id", "title", "labels", "state", "comments")} == {
        "id": "1",
        "title": "Escalation",
        "labels": ["hydra-escalation"],
        "state": "open",
        "comments": [],
    }
    assert created["url"].startswith("file://")
    hydra("comment", "1", "--body", "Looking now.", "--author", "alice")
    shown = json.loads(hydra("show", "1", "--json").stdout)
    assert [(c["author"], c["body"]) for c in shown["comments"]] == [("alice", "Looking now.")]
    listed = json.loads(hydra("list", "--json").stdout)
    assert [i["id"] for i in listed] == ["1"]
    assert "comments" not in listed[0]


def _seed(data_dir: Path, repo: str, *specs: tuple[str, str]) -> None:
    """File issues through the library, so a test spends its subprocesses on what it checks."""

    async def seed() -> None:
        inbox = LocalInbox(data_dir, repo)
        for title, label in specs:
            await inbox.create_issue(title, labels=[label] if label else [])

    anyio.run(seed)


def test_label_comment_close(hydra: Run, project: Path) -> None:
    _seed(project / ".hydra", "proj", ("Thing", "bug"))
    out = hydra("label", "1", "--add", "triaged", "urgent", "--remove", "bug")
    assert out.stdout == "#1 labels: triaged, urgent\n"
    assert hydra("comment", "1", "--body", "Noted.").stdout == "#1: comment added\n"
    assert hydra("close", "1").stdout == "#1 closed\n"
    assert hydra("close", "1").stdout == "#1 was already closed\n"
    inbox = (project / ".hydra" / "inbox" / "proj").resolve()
    assert hydra("list").stdout == f"no open issues in proj ({inbox})\n"
    shown = hydra("show", "1").stdout
    assert "[closed]" in shown
    assert "Noted." in shown


def test_list_filters_and_limit(hydra: Run, project: Path) -> None:
    _seed(project / ".hydra", "proj", ("a", "bug"), ("b", "idea"), ("c", "bug"), ("d", "bug"))
    anyio.run(LocalInbox(project / ".hydra", "proj").close_issue, "4")

    def ids(*args: str) -> list[str]:
        return [i["id"] for i in json.loads(hydra("list", "--json", *args).stdout)]

    assert ids("--label", "bug") == ["1", "3"]
    assert ids("--state", "closed") == ["4"]
    assert ids("--state", "all", "--label", "bug") == ["1", "3", "4"]
    assert ids("--state", "all", "--limit", "3") == ["1", "2", "3"]


def test_errors_are_one_line_with_an_exit_code(hydra: Run, project: Path) -> None:
    _seed(project / ".hydra", "proj", ("exists", ""))
    for args, rc, message in (
        (("show", "99"), 2, "no issue 99 in "),
        (("show", "abc"), 2, "no issue 'abc'"),
        (("new", " "), 2, "a title needs"),
        (("label", "1"), 2, "give --add and/or --remove"),
        (("list", "--state", "bogus"), 2, "invalid choice"),
    ):
        done = hydra(*args, rc=rc)
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("hydra: ")
        assert message in lines[0]
    corrupt = project / ".hydra" / "inbox" / "proj" / "1.json"
    corrupt.write_text("{oops")
    done = hydra("show", "1", rc=1)
    assert f"corrupt issue file {corrupt}" in done.stderr


def test_repo_defaults_to_the_git_repository(hydra: Run, tmp_path: Path) -> None:
    repo = tmp_path / "shop-service"
    (repo / "src" / "deep").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    data = tmp_path / "data"
    out = hydra("new", "From a subdir", "--data-dir", str(data), cwd=repo / "src" / "deep")
    assert out.stdout == opened(1, data, "shop-service", "From a subdir")
    assert (data / "inbox" / "shop-service" / "1.json").is_file()


def test_repo_flag_and_data_dir_sources(hydra: Run, project: Path, tmp_path: Path) -> None:
    hydra("new", "flagged", "--repo", "other", "--data-dir", str(tmp_path / "d1"))
    assert (tmp_path / "d1" / "inbox" / "other" / "1.json").is_file()
    hydra("new", "from env", extra_env={"HYDRA_DATA_DIR": str(tmp_path / "d2")})
    assert (tmp_path / "d2" / "inbox" / "proj" / "1.json").is_file()
    (project / "hydra.toml").write_text('data_dir = "state"\n')
    hydra("new", "from config")
    assert (project / "state" / "inbox" / "proj" / "1.json").is_file()
    hydra("new", "bad", "--repo", "..", rc=2)


def test_parallel_invocations_get_distinct_ids(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    procs = [
        subprocess.Popen(
            [HYDRA, "issue", "new", f"issue {n}", "--json"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        ids.append(json.loads(out)["id"])
    assert sorted(ids, key=int) == [str(n) for n in range(1, 7)]


def _daemon_inbox(project: Path) -> LocalInbox:
    """The inbox the daemon started in ``project`` reads: its settings name the repository."""
    from hydra.settings import load_settings, managed_repos

    settings = load_settings(cwd=project)
    [repo] = managed_repos(settings, cwd=project)
    return LocalInbox(settings.data_dir, repo.name)


def test_readme_example_files_into_the_inbox_the_daemon_reads(hydra: Run, project: Path) -> None:
    # The README's own example: the repository the daemon runs in, named "app".
    (project / "hydra.toml").write_text('[repos.app]\npath = "."\n')
    out = hydra("new", "Configured name")
    assert out.stdout == opened(1, project / ".hydra", "app", "Configured name")
    assert (project / ".hydra" / "inbox" / "app" / "1.json").is_file()
    assert not (project / ".hydra" / "inbox" / "proj").exists()
    inbox = _daemon_inbox(project)
    assert inbox.repo == "app"
    assert [i.title for i in anyio.run(inbox.list_issues)] == ["Configured name"]
    assert hydra("list").stdout.splitlines()[1].endswith("Configured name")


def test_repo_is_the_configured_one_holding_the_working_directory(
    hydra: Run, project: Path
) -> None:
    for sub in ("services/api/src", "services/web"):
        (project / sub).mkdir(parents=True)
    config = project / "hydra.toml"
    config.write_text(
        f'data_dir = "{project / "data"}"\n'
        f'[repos.api]\npath = "{project / "services" / "api"}"\n'
        f'[repos.web]\npath = "{project / "services" / "web"}"\n'
        f'[repos.mono]\npath = "{project}"\n'
    )
    where = {
        project / "services" / "api" / "src": "api",
        project / "services" / "web": "web",
        project: "mono",
    }
    for n, (cwd, expected) in enumerate(where.items(), start=1):
        out = hydra("new", f"from {cwd.name}", "--config", str(config), cwd=cwd)
        assert out.stdout == opened(1, project / "data", expected, f"from {cwd.name}"), n
        assert (project / "data" / "inbox" / expected / "1.json").is_file()


def test_the_only_configured_repo_is_the_default_anywhere(
    hydra: Run, project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / "hydra.toml").write_text(f'[repos.shop]\npath = "{elsewhere}"\n')
    assert hydra("new", "only one").stdout == opened(1, project / ".hydra", "shop", "only one")
    assert (project / ".hydra" / "inbox" / "shop" / "1.json").is_file()
    # An explicit --repo still wins.
    explicit = hydra("new", "explicit", "--repo", "other").stdout
    assert explicit == opened(1, project / ".hydra", "other", "explicit")


def test_several_configured_and_none_here_asks_for_repo(
    hydra: Run, project: Path, tmp_path: Path
) -> None:
    (project / "hydra.toml").write_text(
        f'[repos.a]\npath = "{tmp_path / "a"}"\n[repos.b]\npath = "{tmp_path / "b"}"\n'
    )
    done = hydra("new", "where?", rc=2)
    assert done.stdout == ""
    assert done.stderr == (
        "hydra: several repositories are configured (a, b); pick one with --repo\n"
    )
    assert not (project / ".hydra" / "inbox").exists()
    assert hydra("new", "here", "--repo", "b").stdout == opened(1, project / ".hydra", "b", "here")


def test_repos_from_the_environment_count_too(hydra: Run, project: Path) -> None:
    env = {"HYDRA_REPOS__SVC__PATH": str(project)}
    assert hydra("new", "env", extra_env=env).stdout == opened(1, project / ".hydra", "svc", "env")


def test_a_bad_config_is_one_line_and_exit_2(hydra: Run, project: Path) -> None:
    (project / "hydra.toml").write_text('[repos.app]\npath = "."\ncolour = "red"\n')
    done = hydra("new", "x", rc=2)
    assert done.stderr.startswith("hydra: config error: repos.app.colour")
    assert done.stderr.count("\n") == 1


def _git_init(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def test_from_a_subdirectory_the_config_at_the_git_root_is_used(hydra: Run, tmp_path: Path) -> None:
    root = _git_init(tmp_path / "mono")
    for sub in ("services/api/src", "services/web", "docs"):
        (root / sub).mkdir(parents=True)
    # Relative paths, as `hydra run` in `root` resolves them (against its working directory).
    (root / "hydra.toml").write_text(
        'data_dir = "state"\n'
        '[repos.api]\npath = "services/api"\n'
        '[repos.web]\npath = "services/web"\n'
    )
    state = root / "state"
    out = hydra("new", "From deep in api", cwd=root / "services" / "api" / "src")
    assert out.stdout == opened(1, state, "api", "From deep in api")
    out = hydra("new", "From web", cwd=root / "services" / "web")
    assert out.stdout == opened(1, state, "web", "From web")
    assert (state / "inbox" / "api" / "1.json").is_file()
    assert (state / "inbox" / "web" / "1.json").is_file()
    # Nothing was created where the commands ran.
    assert sorted(p.name for p in (root / "services" / "api").rglob("*")) == ["src"]
    assert list((root / "services" / "web").iterdir()) == []
    # Several repositories, none holding docs/: ask, as from the root.
    done = hydra("new", "where?", cwd=root / "docs", rc=2)
    assert "pick one with --repo" in done.stderr
    # The daemon started in the root reads these very inboxes.
    from hydra.settings import load_settings

    assert load_settings(cwd=root).data_dir == state
    listed = json.loads(hydra("list", "--repo", "api", "--json", cwd=root).stdout)
    assert [i["title"] for i in listed] == ["From deep in api"]


def test_from_a_subdirectory_without_a_config_the_git_root_holds_the_data_dir(
    hydra: Run, tmp_path: Path
) -> None:
    root = _git_init(tmp_path / "shop")
    deep = root / "src" / "deep"
    deep.mkdir(parents=True)
    out = hydra("new", "No config anywhere", cwd=deep)
    assert out.stdout == opened(1, root / ".hydra", "shop", "No config anywhere")
    assert not (deep / ".hydra").exists()
    assert hydra("list", cwd=root).stdout.splitlines()[1].endswith("No config anywhere")


def test_the_search_for_hydra_toml_stops_at_the_git_root(hydra: Run, tmp_path: Path) -> None:
    (tmp_path / "hydra.toml").write_text('data_dir = "outer"\n[repos.outer]\npath = "."\n')
    root = _git_init(tmp_path / "inner")
    (root / "lib").mkdir()
    out = hydra("new", "Stays inside", cwd=root / "lib")
    assert out.stdout == opened(1, root / ".hydra", "inner", "Stays inside")
    assert not (tmp_path / "outer").exists()
    # A config in a subdirectory, nearer than the root, wins there.
    (root / "lib" / "hydra.toml").write_text('data_dir = "here"\n')
    out = hydra("new", "Nearest config", cwd=root / "lib")
    assert out.stdout == opened(1, root / "lib" / "here", "inner", "Nearest config")


def test_an_explicit_config_resolves_like_hydra_run_does(hydra: Run, tmp_path: Path) -> None:
    """``--config PATH``: relative paths against the working directory, as for ``hydra run``."""
    root = _git_init(tmp_path / "app")
    (root / "sub").mkdir()
    config = tmp_path / "elsewhere.toml"
    config.write_text('data_dir = "d"\n[repos.app]\npath = "."\n')
    out = hydra("new", "explicit", "--config", str(config), cwd=root / "sub")
    assert out.stdout == opened(1, root / "sub" / "d", "app", "explicit")


@pytest.mark.parametrize("position", ["before", "after"])
def test_options_work_before_and_after_the_action(
    project: Path, tmp_path: Path, position: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    data = tmp_path / "data"
    options = ("--data-dir", str(data), "--repo", "svc")

    def issue(*action: str) -> str:
        args = (*options, *action) if position == "before" else (*action, *options)
        done = subprocess.run(
            [HYDRA, "issue", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert issue("new", "ordered") == opened(1, data, "svc", "ordered")
    assert [i["id"] for i in json.loads(issue("list", "--json"))] == ["1"]
    assert issue("close", "1") == "#1 closed\n"
    assert not (project / ".hydra").exists()
