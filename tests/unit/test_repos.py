from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hydra.repos import default_repo, default_repo_name, find_repo_root, safe_repo_name


def test_default_repo_name_is_the_git_top_level(tmp_path: Path) -> None:
    repo = tmp_path / "my-repo"
    (repo / "a" / "b").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    assert default_repo_name(repo / "a" / "b") == "my-repo"
    assert default_repo_name(repo) == "my-repo"
    assert find_repo_root(repo / "a") == repo.resolve()
    assert default_repo(repo / "a").path == repo.resolve()


def test_a_linked_worktree_counts_as_a_checkout(tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text("gitdir: /elsewhere/.git/worktrees/linked\n")
    assert find_repo_root(linked) == linked.resolve()


def test_default_repo_name_outside_git_is_the_directory_name(tmp_path: Path) -> None:
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    assert default_repo_name(plain) == "not-a-repo"
    assert find_repo_root(plain) is None


def test_default_repo_name_uses_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "cwd-name"
    here.mkdir()
    monkeypatch.chdir(here)
    assert default_repo_name() == "cwd-name"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("my repo", "my-repo"), ("..hidden", "hidden"), ("ok.name_1", "ok.name_1"), ("", "repo")],
)
def test_repo_names_are_made_safe_for_paths(raw: str, safe: str) -> None:
    assert safe_repo_name(raw) == safe
