"""``verify``: check every line of every segment of a stream (blocking, read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hydra.audit._scan import HASH_MISMATCH, NO_HASH, NOT_OBJECT, UNPARSEABLE, check_line
from hydra.audit._scan import field_problem as _field_problem
from hydra.audit._segments import iter_lines, list_segments, stream_dir

FindingKind = Literal[
    "unparseable", "bad_record", "hash_mismatch", "seq_gap", "chain_break", "torn_tail"
]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``line`` is 1-based, ``offset`` the byte offset of that line."""

    kind: FindingKind
    segment: Path
    line: int
    offset: int
    detail: str

    def format(self) -> str:
        return f"{self.segment.name}:{self.line} (byte {self.offset}) {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of :func:`verify`; ``ok`` when there are no findings."""

    stream: str
    segments: tuple[Path, ...]
    records: int
    first_seq: int | None
    last_seq: int | None
    findings: tuple[Finding, ...]
    omitted: int = 0  # findings beyond ``max_findings``, counted but not kept

    @property
    def ok(self) -> bool:
        return not self.findings

    def format(self) -> str:
        span = "" if self.first_seq is None else f", seq {self.first_seq}..{self.last_seq}"
        segments = f"{len(self.segments)} segment{'s' if len(self.segments) != 1 else ''}"
        head = f"{segments}, {self.records} valid records{span}"
        if self.ok:
            return f"stream {self.stream}: OK ({head})"
        total = len(self.findings) + self.omitted
        lines = [f"stream {self.stream}: {total} problem(s) ({head})"]
        lines += [f"  {item.format()}" for item in self.findings]
        if self.omitted:
            lines.append(f"  … and {self.omitted} more")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "stream": self.stream,
            "ok": self.ok,
            "segments": [path.name for path in self.segments],
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "findings": [
                {
                    "kind": item.kind,
                    "segment": item.segment.name,
                    "line": item.line,
                    "offset": item.offset,
                    "detail": item.detail,
                }
                for item in self.findings
            ],
            "omitted": self.omitted,
        }


@dataclass(slots=True)
class _State:
    max_findings: int
    seq: int | None = 0  # None: continuity unknown after an unreadable line
    prev: str | None = None
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    findings: list[Finding] = field(default_factory=list)
    omitted: int = 0

    def add(self, kind: FindingKind, segment: Path, line: int, offset: int, detail: str) -> None:
        if len(self.findings) < self.max_findings:
            self.findings.append(Finding(kind, segment, line, offset, detail))
        else:
            self.omitted += 1


def verify(root: Path | str, stream: str, *, max_findings: int = 1000) -> VerifyReport:
    """Check the whole stream: parse, fields, hash of the raw bytes, seq and chain.

    Raises ``FileNotFoundError`` if the stream does not exist.
    """
    directory = stream_dir(root, stream)
    if not directory.is_dir():
        raise FileNotFoundError(f"no audit stream {stream!r} under {root}")
    state = _State(max_findings)
    segments = [path for _, path in list_segments(directory)]
    for path in segments:
        number, end = 0, 0
        for offset, line in iter_lines(path):
            number += 1
            end = offset + len(line) + 1
            _check(state, stream, line, at=(path, number, offset))
        if path.stat().st_size > end:
            state.add("torn_tail", path, number + 1, end, "last line has no newline")
    return VerifyReport(
        stream,
        tuple(segments),
        state.records,
        state.first_seq,
        state.last_seq,
        tuple(state.findings),
        state.omitted,
    )


def _check(state: _State, stream: str, line: bytes, *, at: tuple[Path, int, int]) -> None:
    path, number, offset = at
    record, reason = check_line(line, stream)
    if record is None or reason in (UNPARSEABLE, NOT_OBJECT):
        state.add("unparseable", path, number, offset, reason or UNPARSEABLE)
        state.seq = None
        return
    valid = reason is None
    if reason in (HASH_MISMATCH, NO_HASH):
        state.add("hash_mismatch", path, number, offset, reason or HASH_MISMATCH)
        usable = _field_problem(record, stream) is None and type(record.get("hash")) is str
    else:
        usable = valid
        if reason is not None:
            state.add("bad_record", path, number, offset, reason)
    if not usable:
        state.seq = None
        return
    seq, prev = record["seq"], record["prev"]
    if state.seq is not None:
        if seq != state.seq + 1:
            state.add("seq_gap", path, number, offset, f"seq {seq} follows seq {state.seq}")
        if prev != state.prev:
            detail = f"prev of seq {seq} is not the hash of the record before it"
            state.add("chain_break", path, number, offset, detail)
    state.seq = state.last_seq = seq  # type: ignore[assignment]  # checked above
    state.prev = record["hash"]  # type: ignore[assignment]
    if state.first_seq is None:
        state.first_seq = seq  # type: ignore[assignment]
    if valid:
        state.records += 1
