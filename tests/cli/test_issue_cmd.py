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
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}

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


def test_new_list_show(hydra: Run, project: Path) -> None:
    out = hydra(
        "new", "Flaky test", "--body", "Fails 1 run in 10.", "--label", "bug", "--label", "ci"
    )
    assert out.stdout == "#1 opened in proj: Flaky test\n"
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
    assert hydra("list").stdout == "no open issues in proj\n"
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
    assert out.stdout == "#1 opened in shop-service: From a subdir\n"
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
