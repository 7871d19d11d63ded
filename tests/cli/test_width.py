"""The CLI's human output fits the terminal; piped without ``COLUMNS`` it prints full lines.

The commands run as the real console script, fitted to ``COLUMNS`` (and, once, to a real
pseudo-terminal); the width helper :mod:`hydra.cli._width` is also tested on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from hydra.audit import AuditLog
from hydra.cli import loops_cmd
from hydra.cli._width import (
    ELLIPSIS,
    clip,
    display_width,
    fit_line,
    fit_row,
    fit_widths,
    output_width,
    print_table,
)
from tests.cli._support import CONTROL, change_a_payload_mid_stream, hydra, seed
from tests.helpers.daemon import HYDRA, base_env

WIDTHS = (80, 60)
LOOPS_HEADER = ["LOOP", "STATE", "SWITCH", "MODE", "EVERY_S", "LAST", "NEXT", "NOTE"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("width-cli") / "data"
    seed(path)
    return path


def _lines(data: Path, *args: str, columns: int | None = None, rc: int = 0) -> list[str]:
    env = None if columns is None else {"COLUMNS": str(columns)}
    done = hydra(*args, "--data-dir", str(data), cwd=data.parent, env=env, rc=rc)
    return done.stdout.splitlines()


def _fit(lines: list[str], width: int) -> None:
    assert lines
    for line in lines:
        assert display_width(line) <= width, (width, line)


# --------------------------------------------------------------------------- audit tail
@pytest.mark.parametrize("width", WIDTHS)
def test_tail_fits_the_width_and_keeps_its_key_columns(data: Path, width: int) -> None:
    stored = [json.loads(line) for line in _lines(data, "audit", "tail", "costs", "--json")]
    for stream in ("control", "costs"):
        records = [json.loads(line) for line in _lines(data, "audit", "tail", stream, "--json")]
        lines = _lines(data, "audit", "tail", stream, columns=width)
        _fit(lines, width)
        for line, record in zip(lines, records, strict=True):
            ts, seq, actor, action = line.split()[:4]
            assert ts[:19] == record["ts"][:19]  # to the second
            assert (seq, actor, action) == (f"#{record['seq']}", record["actor"], record["action"])
    control = _lines(data, "audit", "tail", "control", columns=width)
    assert [line.split()[2:4] for line in control] == [[c[1], c[0]] for c in CONTROL]
    costs = _lines(data, "audit", "tail", "costs", columns=width)
    assert all(line.endswith(ELLIPSIS) for line in costs)  # the payload gives way, visibly

    # Piped without COLUMNS: today's full lines, for scripts and grep.
    piped = _lines(data, "audit", "tail", "costs")
    assert all(len(line) > width for line in piped)
    assert piped[0].endswith('"usd":0.5}')
    assert stored[0]["payload"]["usd"] == 0.5
    assert ELLIPSIS not in "".join(piped)


def test_tail_follow_fits_each_new_line(data: Path, tmp_path: Path) -> None:
    """``tail -f`` fits each record as it prints it."""
    copy = tmp_path / "data"
    seed(copy)
    lines: queue.Queue[str] = queue.Queue()

    async def append() -> None:
        async with AuditLog(copy / "audit") as audit:
            stream = await audit.stream("control")
            await stream.append("loop.disabled", actor="carol", payload={"reason": "x" * 300})

    with subprocess.Popen(
        [HYDRA, "audit", "tail", "control", "-f", "-n", "0", "--data-dir", str(copy)],
        cwd=tmp_path,
        env=base_env({"COLUMNS": "60"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        out = proc.stdout
        reader = threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in out])
        reader.start()
        try:
            # The follower starts at the end: append until it prints one (it may start late).
            deadline = time.monotonic() + 20
            line = None
            while line is None and time.monotonic() < deadline and proc.poll() is None:
                anyio.run(append)
                with contextlib.suppress(queue.Empty):
                    line = lines.get(timeout=0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            reader.join(timeout=10)
    assert line is not None, f"tail -f printed nothing (exit {proc.returncode})"
    _fit([line], 60)
    assert line.split()[2:4] == ["carol", "loop.disabled"]
    assert line.endswith(ELLIPSIS)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_terminal_is_fitted_without_columns(data: Path) -> None:
    """What the audit saw: an 80-column pty and no COLUMNS; stdout is a terminal."""
    import fcntl
    import struct
    import termios

    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = base_env()
    assert "COLUMNS" not in env
    with subprocess.Popen(
        [HYDRA, "audit", "tail", "costs", "--data-dir", str(data)],
        cwd=data.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=subprocess.PIPE,
    ) as proc:
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(main)
        assert proc.stderr is not None
        errors = proc.stderr.read()
        assert proc.wait(timeout=30) == 0, errors
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 3
    _fit(lines, 80)
    assert all(line.split()[3] == "cost" and line.endswith(ELLIPSIS) for line in lines)


# --------------------------------------------------------------------------- tables
def test_streams_and_costs_fit_with_names_and_numbers_whole(data: Path) -> None:
    for width in WIDTHS:
        streams = _lines(data, "audit", "streams", columns=width)
        _fit(streams, width)
        assert [line.split()[0] for line in streams] == ["STREAM", "control", "costs", "health"]
        assert streams == _lines(data, "audit", "streams")  # narrow enough already: unchanged

        costs = _lines(data, "costs", columns=width)
        _fit(costs, width)
        assert costs[0] == "total: $1.7500 over 3 calls (4500 tokens in, 700 out)"
        rows = {line.split()[0]: line.split() for line in costs if line}
        assert rows["SOURCE"] == ["SOURCE", "USD", "CALLS", "TOKENS_IN", "TOKENS_OUT"]
        assert rows["agent.claude:preflight"][1:] == ["0.7500", "2", "1500", "300"]
        assert rows["agent.codex:review_advisor"][1:] == ["1.0000", "1", "3000", "400"]
        assert rows["review_advisor"][1:3] == ["1.0000", "1"]
    piped = _lines(data, "costs")
    assert max(len(line) for line in piped) == 64  # two spaces between columns, as before


@pytest.mark.parametrize("width", WIDTHS)
def test_verify_fits_and_keeps_the_status_and_where(tmp_path: Path, width: int) -> None:
    data = tmp_path / "data"
    seed(data)
    change_a_payload_mid_stream(data)
    fitted = _lines(data, "audit", "verify", columns=width, rc=1)
    _fit(fitted, width)
    assert fitted[0].startswith("stream control: OK (")
    assert fitted[2].startswith("stream health: 1 problem(s) (")
    assert fitted[3].startswith("  00000001.jsonl:2 (byte ")
    assert " hash_mismatch: " in fitted[3]
    assert fitted[3].endswith(ELLIPSIS)
    piped = _lines(data, "audit", "verify", rc=1)
    assert piped[3].endswith("hash_mismatch: hash does not match the line's bytes")


def test_loops_table_fits_the_global_switch_and_the_next_due(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ``loops list`` printer on an answer of the daemon (in-process: no daemon needed)."""
    soon = (datetime.now(UTC) + timedelta(minutes=4, seconds=30)).isoformat()
    answer = {
        "global": {"enabled": False, "by": "alice", "reason": "deploy in progress " * 10},
        "loops": [
            {
                "name": "principles_audit",
                "state": "blocked",
                "enabled": False,
                "mode": "shadow",
                "interval_s": 21600.0,
                "last": {"status": "unconfigured", "summary": "nothing"},
                "next_due_at": soon.replace("+00:00", "Z"),
                "blocked_reason": "global switch off by alice: " + "deploy in progress " * 10,
            }
        ],
    }
    for width in WIDTHS:
        monkeypatch.setenv("COLUMNS", str(width))
        loops_cmd._print_loops(answer)
        lines = capsys.readouterr().out.splitlines()
        _fit(lines, width)
        assert lines[0].startswith("GLOBAL SWITCH OFF by alice: deploy")
        assert lines[0].endswith(ELLIPSIS)
        assert lines[2].split() == LOOPS_HEADER
        assert lines[3].split()[:3] == ["principles_audit", "blocked", "off"]
        assert lines[3].endswith(ELLIPSIS)
    monkeypatch.setenv("COLUMNS", "200")
    loops_cmd._print_loops(answer)
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row[3:7] == ["shadow", "21600.0", "unconfigured", "in"]
    assert row[7] in ("4m30s", "4m29s", "4m28s")  # the time left, not an ISO date
    monkeypatch.delenv("COLUMNS")
    loops_cmd._print_loops(answer)  # not a terminal (captured): all of it, as before
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"GLOBAL SWITCH OFF by alice: {'deploy in progress ' * 10}"
    assert out[3].split()[6] == answer["loops"][0]["next_due_at"]  # type: ignore[index]


# --------------------------------------------------------------------------- the helper
def test_output_width_is_columns_else_the_terminal_else_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "72")
    assert output_width() == 72
    for unset in ("", "0", "wide"):
        monkeypatch.setenv("COLUMNS", unset)
        assert output_width() is None  # pytest's stdout is not a terminal
    monkeypatch.delenv("COLUMNS")
    assert output_width() is None
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert isinstance(output_width(), int)


def test_clip_counts_terminal_cells_and_shows_the_cut() -> None:
    assert clip("abcdef", 6) == "abcdef"
    assert clip("abcdef", 4) == "abc…"
    assert clip("abcdef", 0) == ""
    assert display_width("日本語") == 6
    assert clip("日本語テキスト", 5) == "日本…"
    assert display_width(clip("日本語テキスト", 6)) <= 6
    line = "stream health: 1 problem(s) (1 segment)"
    assert fit_line(line, 20) == "stream health: 1 pr…"
    assert fit_line(line, 10, keep=27) == "stream health: 1 problem(s)…"
    assert fit_line(line, None) == line


def test_fit_widths_cuts_free_text_then_gaps_then_soft_columns_never_keys() -> None:
    natural, floor, gaps = [10, 8, 30], [10, 4, 4], [2, 2]  # key, soft, free
    assert fit_widths(natural, floor, gaps, None, free=2) == ([10, 8, 30], [2, 2])
    assert fit_widths(natural, floor, gaps, 60, free=2) == ([10, 8, 30], [2, 2])
    assert fit_widths(natural, floor, gaps, 40, free=2) == ([10, 8, 18], [2, 2])
    assert fit_widths(natural, floor, gaps, 30, free=2) == ([10, 8, 10], [1, 1])
    assert fit_widths(natural, floor, gaps, 24, free=2) == ([10, 4, 8], [1, 1])
    assert fit_widths(natural, floor, gaps, 10, free=2) == ([10, 4, 4], [1, 1])  # keys whole


def test_fit_row_without_a_width_is_the_plain_padded_line() -> None:
    cells = ("2026-01-01T00:00:00Z", "#12", "bob", "loop.enabled", "-", '{"a":1}')
    plain = fit_row(cells, None, gaps=(2, 1, 1, 1, 2), pad_to=(0, 7, 16, 18), key=range(4))
    assert plain == f"{cells[0]}  #{12:<6} {'bob':<16} {'loop.enabled':<18} -  {cells[5]}"
    fitted = fit_row(cells, 50, gaps=(2, 1, 1, 1, 2), pad_to=(0, 7, 16, 18), key=range(4), free=5)
    assert len(fitted) == 50
    assert fitted.split()[:4] == ["2026-01-01T00:00:00Z", "#12", "bob", "loop.enabled"]


def test_print_table_shrinks_the_free_column_not_the_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [["health", "waiting", "a rather long note about what happened " * 3]]
    monkeypatch.setenv("COLUMNS", "40")
    print_table(["loop", "state", "note"], rows, free="note")
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["LOOP    STATE    NOTE", "health  waiting  a rather long note abo…"]
    monkeypatch.delenv("COLUMNS")
    print_table(["loop", "state", "note"], rows, free="note")
    assert capsys.readouterr().out.splitlines()[1].endswith("...")  # piped: cut at 60 as before
