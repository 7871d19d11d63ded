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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hydra.statefile import (
    TempName,
    parse_temp_name,
    sweep_stale_temps,
    temp_path,
    write_json_atomic,
)

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
        assert sweep_stale_temps(tmp_path) == [tmp]
    assert not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["switches.json"]
    assert sweep_stale_temps(tmp_path) == []


def test_the_temp_file_of_a_live_writer_is_kept_until_it_dies(tmp_path: Path) -> None:
    with writer(tmp_path / "escalations.json") as (proc, tmp):
        assert sweep_stale_temps(tmp_path) == []  # a CLI may be writing right now
        assert tmp.exists()
        kill(proc)
        assert sweep_stale_temps(tmp_path) == [tmp]


def test_the_own_temp_files_of_this_process_are_kept(tmp_path: Path) -> None:
    mine = temp_path(tmp_path / "daemon.json")
    mine.write_bytes(b"{")
    other_thread = tmp_path / f".daemon.json.{os.getpid()}.{threading.get_ident() + 1}.tmp"
    other_thread.write_bytes(b"{")
    assert sweep_stale_temps(tmp_path) == []
    assert mine.exists()
    assert other_thread.exists()


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
    assert sweep_stale_temps(tmp_path) == []
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
    assert sweep_stale_temps(tmp_path) == [stale]  # not recursive
    assert a_dir.is_dir()
    assert link.is_symlink()
    assert nested.exists()
    assert sweep_stale_temps(nested.parent) == [nested]


def test_a_missing_directory_sweeps_nothing(tmp_path: Path) -> None:
    assert sweep_stale_temps(tmp_path / "absent") == []


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
