"""verify(): every kind of finding, with segment, line and offset."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hydra.audit import verify
from hydra.audit._encode import make_pending, record_prefix, seal
from tests.audit.conftest import make_stream

SEGMENT = "00000001.jsonl"


def _lines(root: Path, name: str = "control") -> tuple[Path, list[bytes]]:
    path = root / name / SEGMENT
    return path, path.read_bytes().splitlines(keepends=True)


def _offset(lines: list[bytes], index: int) -> int:
    return sum(len(line) for line in lines[:index])


def _kinds(root: Path) -> list[tuple[str, int]]:
    return [(f.kind, f.line) for f in verify(root, "control").findings]


def test_a_clean_stream(root: Path) -> None:
    make_stream(root, "control", 30, segment_max_bytes=1500)
    report = verify(root, "control")
    assert report.ok
    assert report.records == 30
    assert (report.first_seq, report.last_seq) == (1, 30)
    assert len(report.segments) > 3
    assert "OK" in report.format()
    as_json = orjson.loads(orjson.dumps(report.to_dict()))
    assert as_json["ok"] is True
    assert as_json["findings"] == []


def test_missing_line_is_a_seq_gap_and_a_chain_break(root: Path) -> None:
    make_stream(root, "control", 5)
    path, lines = _lines(root)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    report = verify(root, "control")
    assert [(f.kind, f.line, f.offset) for f in report.findings] == [
        ("seq_gap", 3, _offset(lines, 2)),
        ("chain_break", 3, _offset(lines, 2)),
    ]
    assert report.records == 4


def test_resealed_record_breaks_the_chain_only(root: Path) -> None:
    make_stream(root, "control", 4)
    path, lines = _lines(root)
    forged, _ = seal(
        record_prefix("control"),
        3,
        make_pending("forged", "x", None, None, None),
        "0" * 64,
        "control",
    )
    path.write_bytes(b"".join([*lines[:2], forged, *lines[3:]]))
    assert _kinds(root) == [("chain_break", 3), ("chain_break", 4)]


def test_hash_mismatch_keeps_the_chain_going(root: Path) -> None:
    make_stream(root, "control", 5)
    path, lines = _lines(root)
    lines[1] = lines[1].replace(b'"note":"record 1"', b'"note":"record X"')
    path.write_bytes(b"".join(lines))
    report = verify(root, "control")
    assert [(f.kind, f.line, f.offset) for f in report.findings] == [
        ("hash_mismatch", 2, _offset(lines, 1))
    ]
    assert report.records == 4
    assert report.last_seq == 5


def test_unparseable_and_foreign_lines(root: Path) -> None:
    make_stream(root, "control", 4)
    make_stream(root, "other", 4)
    path, lines = _lines(root)
    _, other = _lines(root, "other")
    path.write_bytes(b"".join([lines[0], b"{not json\n", other[2], *lines[3:]]))
    kinds = _kinds(root)
    assert kinds[0] == ("unparseable", 2)
    assert kinds[1] == ("bad_record", 3)
    assert "other" in verify(root, "control").findings[1].detail
    # continuity is not re-checked right after unreadable lines: no cascade of findings
    assert len(kinds) == 2


def test_torn_tail(root: Path) -> None:
    make_stream(root, "control", 3)
    path, lines = _lines(root)
    path.write_bytes(b"".join(lines) + b'{"v":1,"str')
    report = verify(root, "control")
    assert [(f.kind, f.line, f.offset) for f in report.findings] == [
        ("torn_tail", 4, _offset(lines, 3))
    ]
    assert "torn_tail" in report.format()


def test_a_missing_segment_shows_as_a_gap_at_the_next_segment(root: Path) -> None:
    make_stream(root, "control", 30, segment_max_bytes=1500)
    segments = sorted((root / "control").glob("*.jsonl"))
    segments[1].unlink()
    finding = verify(root, "control").findings[0]
    assert (finding.kind, finding.segment, finding.line, finding.offset) == (
        "seq_gap", segments[2], 1, 0,
    )  # fmt: skip


def test_findings_are_capped(root: Path) -> None:
    make_stream(root, "control", 2)
    path, lines = _lines(root)
    path.write_bytes(b"".join(lines) + b"junk\n" * 50)
    report = verify(root, "control", max_findings=10)
    assert len(report.findings) == 10
    assert report.omitted == 40
    assert "40 more" in report.format()
    assert report.to_dict()["omitted"] == 40


def test_missing_stream(root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        verify(root, "nothing")
    with pytest.raises(ValueError, match="invalid audit stream name"):
        verify(root, "../x")
