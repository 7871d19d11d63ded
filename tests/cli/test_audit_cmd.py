"""``hydra audit …`` and ``hydra costs`` on a data dir with no daemon running.

The data dir is written by the real audit writer and cost ledger (:func:`seed`); the commands
run as the real console script.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli._support import (
    CONTROL,
    COSTS,
    HEALTH,
    change_a_payload_mid_stream,
    hydra,
    one_error_line,
    seed,
)
from tests.helpers.daemon import HYDRA, base_env

STREAMS = ["control", "costs", "health"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-cli") / "data"
    seed(path)
    return path


def _run(data: Path, *args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    return hydra(*args, "--data-dir", str(data), cwd=data.parent, rc=rc)


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


# --------------------------------------------------------------------------- streams
def test_streams_table_and_json(data: Path) -> None:
    table = _run(data, "audit", "streams").stdout.splitlines()
    assert table[0].split() == ["STREAM", "SEGMENTS", "BYTES", "FIRST_SEQ", "LAST_SEQ", "RECORDS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert list(rows) == STREAMS
    assert rows["health"][5] == str(len(HEALTH))
    listed = json.loads(_run(data, "audit", "streams", "--json").stdout)
    assert [s["stream"] for s in listed] == STREAMS
    counts = {s["stream"]: s["records"] for s in listed}
    assert counts == {"control": len(CONTROL), "costs": len(COSTS), "health": len(HEALTH)}
    for s in listed:
        size = sum(f.stat().st_size for f in (data / "audit" / s["stream"]).glob("*.jsonl"))
        assert s["bytes"] == size
        assert s["segments"] == 1


def test_streams_of_an_empty_data_dir_say_so(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = _run(tmp_path / "data", "audit", "streams")
    assert done.stdout == f"no audit streams in {tmp_path / 'data' / 'audit'}\n"
    assert json.loads(_run(tmp_path / "data", "audit", "streams", "--json").stdout) == []


# --------------------------------------------------------------------------- tail
def test_tail_prints_the_newest_records_oldest_first(data: Path) -> None:
    lines = _run(data, "audit", "tail").stdout.splitlines()  # default stream: control
    assert len(lines) == len(CONTROL)
    for line, (action, actor, _payload, _run_id) in zip(lines, CONTROL, strict=True):
        fields = line.split()
        assert fields[2:4] == [actor, action]
    assert lines[1].endswith('{"loop":"health","reason":"too noisy"}')

    two = _run(data, "audit", "tail", "health", "-n", "2").stdout.splitlines()
    assert [line.split()[1] for line in two] == ["#3", "#4"]


def test_tail_json_and_filters(data: Path) -> None:
    records = _json_lines(_run(data, "audit", "tail", "health", "--json").stdout)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert all(r["stream"] == "health" for r in records)
    finished = _json_lines(
        _run(data, "audit", "tail", "health", "--json", "--action", "tick.finished").stdout
    )
    assert [(r["run"], r["payload"]) for r in finished] == [
        ("run-1", {"status": "ok"}),
        ("run-2", {"status": "warning"}),
    ]
    run2 = _json_lines(_run(data, "audit", "tail", "health", "--json", "--run", "run-2").stdout)
    assert [r["action"] for r in run2] == ["tick.started", "tick.finished"]


# --------------------------------------------------------------------------- query
def test_query_writes_matching_records_as_json_lines(data: Path) -> None:
    out = _run(data, "audit", "query", "health", "--action", "tick.*").stdout
    records = _json_lines(out)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    # Each line is the record as stored: the files are the source of truth.
    stored = (data / "audit" / "health" / "00000001.jsonl").read_text()
    assert out == stored
    # --json is accepted (as by the other audit commands) and changes nothing
    assert _run(data, "audit", "query", "health", "--action", "tick.*", "--json").stdout == out
    by_actor = _json_lines(_run(data, "audit", "query", "control", "--actor", "alice").stdout)
    assert [r["action"] for r in by_actor] == ["loop.disabled"]
    limited = _json_lines(
        _run(data, "audit", "query", "health", "--action", "tick.finished", "--limit", "1").stdout
    )
    assert [r["run"] for r in limited] == ["run-1"]
    assert _run(data, "audit", "query", "health", "--since", "2999-01-01").stdout == ""
    everything = _json_lines(_run(data, "audit", "query", "health", "--until", "2999-01-01").stdout)
    assert len(everything) == len(HEALTH)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("audit", "query", "nope"), "no audit stream 'nope'"),
        (("audit", "tail", "nope"), "no audit stream 'nope'"),
        (("audit", "verify", "nope"), "no audit stream 'nope'"),
        (("audit", "query", "health", "--since", "yesterday"), "--since: 'yesterday'"),
        (("audit", "query", "health", "--limit", "-1"), "--limit must not be negative"),
        (("costs", "--until", "soon"), "--until: 'soon'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(data: Path, args: tuple[str, ...], fragment: str) -> None:
    one_error_line(_run(data, *args, rc=2), fragment)


@pytest.mark.parametrize(
    "args",
    [("audit", "streams"), ("audit", "query", "health"), ("audit", "verify"), ("costs",)],
    ids=" ".join,
)
def test_a_missing_data_dir_is_an_error_not_an_empty_log(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    done = hydra(*args, "--data-dir", str(tmp_path / "typo"), cwd=tmp_path, rc=2)
    one_error_line(done, f"no data dir at {tmp_path / 'typo'}")


# --------------------------------------------------------------------------- verify
def test_verify_passes_on_intact_streams(data: Path) -> None:
    out = _run(data, "audit", "verify").stdout.splitlines()
    assert out == [
        "stream control: OK (1 segment, 3 valid records, seq 1..3)",
        "stream costs: OK (1 segment, 3 valid records, seq 1..3)",
        "stream health: OK (1 segment, 4 valid records, seq 1..4)",
    ]
    [report] = json.loads(_run(data, "audit", "verify", "health", "--json").stdout)
    assert report["ok"] is True
    assert report["records"] == len(HEALTH)
    assert (report["first_seq"], report["last_seq"]) == (1, len(HEALTH))
    assert report["findings"] == []


def test_verify_finds_damage_and_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data)
    change_a_payload_mid_stream(data)
    done = _run(data, "audit", "verify", rc=1)
    assert "stream health: " in done.stdout
    assert "stream control: OK" in done.stdout
    reports = {
        r["stream"]: r for r in json.loads(_run(data, "audit", "verify", "--json", rc=1).stdout)
    }
    assert reports["control"]["ok"] is True
    assert reports["health"]["ok"] is False
    assert reports["health"]["findings"]


# --------------------------------------------------------------------------- costs
def test_costs_table(data: Path) -> None:
    out = _run(data, "costs").stdout
    total_usd = sum(c[3] for c in COSTS)
    tokens_in, tokens_out = sum(c[4] for c in COSTS), sum(c[5] for c in COSTS)
    assert out.splitlines()[0] == (
        f"total: ${total_usd:.4f} over {len(COSTS)} calls ({tokens_in} tokens in, {tokens_out} out)"
    )
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line}
    assert rows["preflight"][1:3] == ["0.7500", "2"]
    assert rows["review_advisor"][1:3] == ["1.0000", "1"]
    assert rows["agent.claude:preflight"][1:3] == ["0.7500", "2"]
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", key) for key in rows)


def test_costs_json_and_time_window(data: Path) -> None:
    result = json.loads(_run(data, "costs", "--json").stdout)
    assert result["total"] == {"usd": 1.75, "calls": 3, "input_tokens": 4500, "output_tokens": 700}
    assert result["by_loop"]["preflight"]["usd"] == 0.75
    assert result["by_source"]["agent.codex:review_advisor"]["calls"] == 1
    [day] = result["by_day"]
    assert result["by_day"][day]["calls"] == 3
    future = json.loads(_run(data, "costs", "--json", "--since", "2999-01-01").stdout)
    assert future["total"]["calls"] == 0
    assert future["by_loop"] == {}


def test_costs_with_no_costs_stream_yet(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    out = _run(tmp_path / "data", "costs").stdout
    assert out == "total: $0.0000 over 0 calls (0 tokens in, 0 out)\n"


# --------------------------------------------------------------------------- import weight
WEB_STACK = ("starlette", "uvicorn", "httpx", "pydantic", "pydantic_settings", "hydra.api")


def test_audit_query_does_not_import_the_web_stack(data: Path) -> None:
    """``python -X importtime`` lists every module the real console script imports."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            HYDRA,
            "audit",
            "query",
            "health",
            "--action",
            "tick.finished",
            "--data-dir",
            str(data),
        ],
        cwd=data.parent,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "hydra.audit" in imported  # the parse worked
    heavy = sorted(n for n in imported for m in WEB_STACK if n == m or n.startswith(m + "."))
    assert heavy == []


# --------------------------------------------------------------------------- option order
@pytest.mark.parametrize("position", ["before", "after"])
def test_location_options_work_before_and_after_the_action(
    data: Path, tmp_path: Path, position: str
) -> None:
    options = ("--data-dir", str(data))
    for action in (("streams", "--json"), ("verify", "health"), ("query", "health")):
        args = (*options, *action) if position == "before" else (*action, *options)
        done = hydra("audit", *args, cwd=tmp_path)  # no data dir of its own in tmp_path
        assert done.stdout, action
    listed = json.loads(hydra("audit", *options, "streams", "--json", cwd=tmp_path).stdout)
    assert [s["stream"] for s in listed] == STREAMS
