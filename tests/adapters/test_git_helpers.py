"""The git adapters' pure helpers: parsing git's output, quoting, names, and the write shield."""

from __future__ import annotations

import anyio
import pytest

from hydra.adapters._gitchanges import parse_name_status, parse_numstat
from hydra.adapters._gitpaths import check_branch, unquote
from hydra.adapters._gitshield import finish_within
from hydra.adapters._gitworktree import parse_worktree_list
from ports import PortError

pytestmark = pytest.mark.anyio


def test_unquote_reads_git_c_quoted_paths() -> None:
    assert unquote(b"plain name.txt") == "plain name.txt"
    assert unquote(b'"tab\\tand\\nnewline"') == "tab\tand\nnewline"
    assert unquote(b'"quote\\"back\\\\slash"') == 'quote"back\\slash'
    assert unquote(b'"\\303\\274ber"') == "über"
    assert unquote('"ünï"'.encode()) == "ünï"


def test_name_status_and_numstat_with_a_rename() -> None:
    status = ["M", "a.py", "R087", "old.py", "new.py", "D", "gone.py", "A", "b.bin"]
    assert parse_name_status(status) == {
        "a.py": "modified",
        "new.py": "renamed",
        "gone.py": "deleted",
        "b.bin": "added",
    }
    numstat = ["1\t2\ta.py", "3\t0\t", "old.py", "new.py", "0\t5\tgone.py", "-\t-\tb.bin"]
    assert parse_numstat(numstat) == {
        "a.py": (1, 2),
        "new.py": (3, 0),
        "gone.py": (0, 5),
        "b.bin": (0, 0),
    }


def test_worktree_list_porcelain() -> None:
    fields = [
        "worktree /repo", "HEAD abc", "branch refs/heads/main", "",
        "worktree /data/wt/job", "HEAD def", "detached", "",
        "worktree /data/wt/gone", "HEAD 123", "branch refs/heads/x/y", "prunable gitdir gone", "",
    ]  # fmt: skip
    entries = parse_worktree_list(fields)
    assert [(str(e.path), e.branch, e.prunable) for e in entries] == [
        ("/repo", "main", False),
        ("/data/wt/job", None, False),
        ("/data/wt/gone", "x/y", True),
    ]


@pytest.mark.parametrize(
    "branch",
    ["", "HEAD", "-x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a@{1}",
     "a//b", "a/", "a.lock", "a.lock/b", "a/.b", ".a", "a.", "@", "a\x7f"],
)  # fmt: skip
def test_branch_names_git_would_refuse_are_invalid(branch: str) -> None:
    with pytest.raises(PortError) as caught:
        check_branch(branch, port="workspace")
    assert caught.value.kind == "invalid"


@pytest.mark.parametrize("branch", ["main", "hydra/job-1", "feature/x.y_z", "a@b", "ünï"])
def test_ordinary_branch_names_pass(branch: str) -> None:
    assert check_branch(branch, port="workspace") == branch


async def test_a_write_finishes_despite_cancellation_within_the_grace() -> None:
    finished = []

    async def write() -> str:
        await anyio.sleep(0.2)
        finished.append(True)
        return "done"

    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as outer:
            await finish_within(2.0, write)
    assert outer.cancelled_caught
    assert finished == [True]


async def test_a_write_is_cut_once_the_grace_is_over() -> None:
    async def stuck() -> None:
        await anyio.sleep(60)

    with anyio.fail_after(5):
        start = anyio.current_time()
        with anyio.move_on_after(0.05) as outer:
            await finish_within(0.1, stuck)
    assert outer.cancelled_caught
    assert anyio.current_time() - start < 1.0


async def test_without_cancellation_the_value_and_errors_pass_through() -> None:
    async def value() -> int:
        return 7

    async def failing() -> None:
        raise PortError("failed", "boom")

    with anyio.fail_after(5):
        assert await finish_within(1.0, value) == 7
        with pytest.raises(PortError, match="boom"):
            await finish_within(1.0, failing)
