"""``sweep_stale_temps``: the temp files of killed writers go, nothing else does.

The writers are real processes: a child makes its temp file through the real naming helper
(:func:`hydra.statefile.temp_path`) and is then SIGKILLed, or stays alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hydra.statefile import (
    Sweep,
    TempName,
    parse_temp_name,
    sweep_stale_temps,
    temp_path,
    write_json_atomic,
)
from tests.helpers.faults import UnlinkLosingARace

# Makes the temp file of ``argv[1]`` as ``write_json_atomic`` would, says where, then waits
# for its end (a SIGKILL between creating the temp file and the rename).
WRITER = """
import sys, time
from pathlib import Path
from hydra.statefile import temp_path
tmp = temp_path(Path(sys.argv[1]))
tmp.write_bytes(b'{"half": ')
print(tmp, flush=True)
time.sleep(120)
"""


NOTHING = Sweep([], [])


@contextmanager
def writer(target: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A live child process holding the temp file of ``target``, and that temp file."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        tmp = Path(proc.stdout.readline().strip())
        assert tmp.exists(), "the writer did not start"
        yield proc, tmp
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL  # reaped: its pid names no process now


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert proc.wait(timeout=30) == 0
    return proc.pid


def test_the_temp_file_of_a_killed_writer_is_removed(tmp_path: Path) -> None:
    target = tmp_path / "switches.json"
    write_json_atomic(target, {"loops": {}})
    with writer(target) as (proc, tmp):
        temp = parse_temp_name(tmp.name)
        assert temp is not None
        assert (temp.target, temp.pid) == ("switches.json", proc.pid)
        kill(proc)
        assert tmp.exists()  # the kill left it behind
        assert sweep_stale_temps(tmp_path) == Sweep([tmp], [])
    assert not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["switches.json"]
    assert sweep_stale_temps(tmp_path) == NOTHING


def test_the_temp_file_of_a_live_writer_is_kept_until_it_dies(tmp_path: Path) -> None:
    with writer(tmp_path / "escalations.json") as (proc, tmp):
        assert sweep_stale_temps(tmp_path) == NOTHING  # a CLI may be writing right now
        assert tmp.exists()
        kill(proc)
        assert sweep_stale_temps(tmp_path) == Sweep([tmp], [])


def test_the_own_temp_files_of_this_process_are_kept(tmp_path: Path) -> None:
    mine = temp_path(tmp_path / "daemon.json")
    mine.write_bytes(b"{")
    other_thread = tmp_path / f".daemon.json.{os.getpid()}.{threading.get_ident() + 1}.tmp"
    other_thread.write_bytes(b"{")
    assert sweep_stale_temps(tmp_path) == NOTHING
    assert mine.exists()
    assert other_thread.exists()


def test_the_own_temp_files_go_only_when_the_caller_knows_they_are_an_earlier_incarnations(
    tmp_path: Path,
) -> None:
    # The daemon's start-up sweep (the same small pid at every start of a container).
    mine = temp_path(tmp_path / "daemon.json")
    other_thread = tmp_path / f".daemon.json.{os.getpid()}.{threading.get_ident() + 1}.tmp"
    for path in (mine, other_thread):
        path.write_bytes(b"{")
    with writer(tmp_path / "switches.json") as (_proc, live):
        assert sweep_stale_temps(tmp_path) == NOTHING
        done = sweep_stale_temps(tmp_path, own_pid_is_stale=True)
        assert sorted(done.removed) == sorted([mine, other_thread])
        assert done.failed == []
        assert live.exists()  # another live process's temp file still stays


def backdate(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_temp_file_younger_than_the_minimum_age_is_kept_whatever_its_pid(
    tmp_path: Path, dead_pid: int
) -> None:
    # A writer in another pid namespace looks dead here (or has our pid): only the age tells.
    young = tmp_path / f".1.json.{dead_pid}.1.tmp"
    old = tmp_path / f".2.json.{dead_pid}.2.tmp"
    mine_young = temp_path(tmp_path / "3.json")
    future = tmp_path / f".4.json.{dead_pid}.4.tmp"  # a clock set back: not old
    for path in (young, old, mine_young, future):
        path.write_bytes(b"{")
    backdate(young, 30)
    backdate(mine_young, 30)
    backdate(old, 90)
    backdate(future, -3600)
    swept = sweep_stale_temps(tmp_path, own_pid_is_stale=True, min_age_s=60)
    assert swept == Sweep([old], [])
    assert [p for p in (young, mine_young, future) if not p.exists()] == []
    rest = sweep_stale_temps(tmp_path, own_pid_is_stale=True)  # no minimum age
    assert sorted(rest.removed) == sorted([young, mine_young, future])


def test_a_file_that_cannot_be_removed_is_reported_and_the_sweep_goes_on(
    tmp_path: Path, dead_pid: int
) -> None:
    stale = [tmp_path / f".{n}.json.{dead_pid}.{n}.tmp" for n in range(1, 5)]
    for path in stale:
        path.write_bytes(b"{")
    unlink = UnlinkLosingARace()
    done = sweep_stale_temps(tmp_path, unlink=unlink)
    [(failed, error)] = done.failed
    assert unlink.raced == [failed]
    assert "Is a directory" in error
    assert str(failed) in error
    assert sorted(done.removed) == sorted(p for p in stale if p != failed)
    assert [p.name for p in tmp_path.iterdir()] == [failed.name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may unlink in a read-only directory")
def test_each_file_a_read_only_directory_keeps_is_reported(tmp_path: Path, dead_pid: int) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    stale = [directory / f".{n}.json.{dead_pid}.{n}.tmp" for n in range(1, 3)]
    for path in stale:
        path.write_bytes(b"{")
    directory.chmod(0o555)
    try:
        done = sweep_stale_temps(directory)
    finally:
        directory.chmod(0o755)
    assert done.removed == []
    assert sorted(done.failed) == sorted((p, f"[Errno 13] Permission denied: '{p}'") for p in stale)


@pytest.mark.parametrize(
    "name",
    [
        "switches.json",
        "{pid}.json",
        "switches.json.{pid}.1.tmp",  # no leading dot
        ".switches.json.tmp",
        ".switches.json.{pid}.tmp",  # no thread id
        ".{pid}.1.tmp",  # no target name
        ".switches.json.{pid}.1.tmp.bak",
        ".switches.json.{pid}.1.tmpx",
        ".switches.json.{pid}.x1.tmp",
        ".switches.json.0{pid}.1.tmp",  # a leading zero: no name temp_path makes
        ".switches.json.0.1.tmp",  # pid 0 would be the process group
        ".switches.json.-{pid}.1.tmp",
        ".pre-push.{pid}.1.TMP",
        ".lock",
    ],
)
def test_files_not_named_by_the_scheme_are_kept(tmp_path: Path, dead_pid: int, name: str) -> None:
    path = tmp_path / name.format(pid=dead_pid)
    path.write_bytes(b"keep me")
    assert sweep_stale_temps(tmp_path) == NOTHING
    assert path.read_bytes() == b"keep me"


def test_only_regular_files_in_the_directory_itself_are_removed(
    tmp_path: Path, dead_pid: int
) -> None:
    stale = tmp_path / f".switches.json.{dead_pid}.7.tmp"
    stale.write_bytes(b"{")
    a_dir = tmp_path / f".loops.{dead_pid}.7.tmp"
    a_dir.mkdir()
    link = tmp_path / f".link.json.{dead_pid}.7.tmp"
    link.symlink_to(tmp_path / "elsewhere")
    nested = tmp_path / "loops" / f".counting.json.{dead_pid}.7.tmp"
    nested.parent.mkdir()
    nested.write_bytes(b"{")
    assert sweep_stale_temps(tmp_path) == Sweep([stale], [])  # not recursive
    assert a_dir.is_dir()
    assert link.is_symlink()
    assert nested.exists()
    assert sweep_stale_temps(nested.parent) == Sweep([nested], [])


def test_a_missing_directory_sweeps_nothing(tmp_path: Path) -> None:
    assert sweep_stale_temps(tmp_path / "absent") == NOTHING


def test_the_naming_helper_and_the_parser_agree(tmp_path: Path) -> None:
    for target in ("switches.json", "7.json", "pre-push", "a.b.c.json", "12.34.tmp"):
        name = temp_path(tmp_path / target).name
        assert name.startswith(f".{target}.")
        assert parse_temp_name(name) == TempName(target, os.getpid(), threading.get_ident())
    assert parse_temp_name("switches.json") is None


def test_write_json_atomic_writes_through_the_named_temp_file(tmp_path: Path) -> None:
    # The temp file it would leave behind is the one the sweep knows: the name is shared.
    target = tmp_path / "state.json"
    stray = temp_path(target)
    stray.write_bytes(b"left over by a failed write of this very thread")
    write_json_atomic(target, {"a": 1})
    assert not stray.exists()  # truncated, written and renamed over the target
    assert target.read_bytes() == b'{\n  "a": 1\n}\n'
