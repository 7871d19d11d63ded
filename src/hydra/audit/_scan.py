"""Byte-level validation of lines and segments, shared by the writer, repair and verify."""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

import orjson

from hydra.audit._encode import HASH_OPEN, HASH_SUFFIX_LEN

UNPARSEABLE = "unparseable JSON"
NOT_OBJECT = "not a JSON object"
NO_HASH = "missing hash member at the end of the line"
HASH_MISMATCH = "hash does not match the line's bytes"
_MISSING = object()
_FIELD_TYPES = (
    ("ts", (str,)),
    ("actor", (str,)),
    ("action", (str,)),
    ("run", (str, type(None))),
    ("payload", (dict,)),
    ("prev", (str, type(None))),
)


def hash_matches(line: bytes) -> bool:
    """True if ``line`` (without ``\\n``) ends with a hash member matching its own bytes."""
    if len(line) <= HASH_SUFFIX_LEN or not line.endswith(b'"}'):
        return False
    if line[-HASH_SUFFIX_LEN : -HASH_SUFFIX_LEN + 9] != HASH_OPEN:
        return False
    hasher = sha256(line[:-HASH_SUFFIX_LEN])
    hasher.update(b"}")
    return hasher.hexdigest().encode() == line[-66:-2]


def check_line(line: bytes, stream: str) -> tuple[dict[str, object] | None, str | None]:
    """Check one line (without ``\\n``) on its own: JSON, hash, fields and types.

    Returns ``(record, None)`` when the line is a self-contained valid record; otherwise
    ``(record_or_None, reason)`` where ``record`` is the parsed object when it parsed.
    Continuity (``seq``/``prev``) is the caller's business.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, UNPARSEABLE
    if type(record) is not dict:
        return None, NOT_OBJECT
    if not hash_matches(line):
        return record, NO_HASH if type(record.get("hash")) is not str else HASH_MISMATCH
    return record, field_problem(record, stream)


def field_problem(record: dict[str, object], stream: str) -> str | None:
    """Why ``record`` is not a well-formed record of ``stream``, or ``None``."""
    version, seq = record.get("v"), record.get("seq")
    if type(version) is not int or version != 1:
        return f"unsupported schema version {version!r}"
    if record.get("stream") != stream:
        return f"record of stream {record.get('stream')!r} in stream {stream!r}"
    if type(seq) is not int or seq < 1:
        return f"invalid seq {seq!r}"
    for name, allowed in _FIELD_TYPES:
        if type(record.get(name, _MISSING)) not in allowed:
            return f"missing or invalid {name!r}"
    return None


def continuity_problem(record: dict[str, object], seq: int, prev: str | None) -> str | None:
    """Why ``record`` does not follow the record ``(seq, prev)``, or ``None``."""
    if record["seq"] != seq + 1:
        return f"seq {record['seq']} where {seq + 1} was expected"
    if record["prev"] != prev:
        return f"prev does not match the hash of seq {seq}"
    return None


@dataclass(slots=True)
class Scan:
    """Result of :func:`scan`: the valid prefix and, if any, where it stops."""

    end: int
    last_seq: int
    last_hash: str | None
    records: int
    damage_line: int = 0  # 1-based, relative to the scanned bytes; 0 = no damage
    reason: str | None = None
    valid_after: bool = False

    @property
    def damaged(self) -> bool:
        return self.reason is not None


def scan(data: bytes, stream: str, *, seq: int, prev: str | None) -> Scan:
    """Validate ``data`` (whole lines continuing the record ``(seq, prev)``).

    Stops at the first invalid line: ``end`` is its offset (== ``len(data)`` when clean)
    and ``valid_after`` tells whether any self-consistent record of ``stream`` (its hash
    matches its own bytes) starts at or after it — if so this is not a torn tail.
    """
    result = Scan(end=0, last_seq=seq, last_hash=prev, records=0)
    pos, size = 0, len(data)
    while pos < size:
        newline = data.find(b"\n", pos)
        if newline < 0:
            result.reason = "torn last line (no newline at end of file)"
            break
        record, reason = check_line(data[pos:newline], stream)
        if reason is None and record is not None:
            reason = continuity_problem(record, result.last_seq, result.last_hash)
        if reason is not None or record is None:
            result.reason = reason
            break
        result.last_seq = record["seq"]  # type: ignore[assignment]  # checked by check_line
        result.last_hash = record["hash"]  # type: ignore[assignment]
        result.records += 1
        pos = newline + 1
    result.end = pos
    if result.reason is not None:
        result.damage_line = result.records + 1
        result.valid_after = any_record_after(data, pos, stream)
    return result


def any_record_after(data: bytes, offset: int, stream: str) -> bool:
    """True if a complete line whose hash matches its bytes starts at/after ``offset``.

    Looks at every occurrence of the record prefix, not only at line starts, so a valid
    record glued to garbage (its preceding newline overwritten) still counts.
    """
    marker = b'{"v":1,"stream":' + orjson.dumps(stream) + b","
    pos = data.find(marker, offset)
    while pos >= 0:
        newline = data.find(b"\n", pos)
        if newline < 0:
            return False
        if hash_matches(data[pos:newline]):
            return True
        pos = data.find(marker, pos + 1)
    return False


def line_number_at(data: bytes, offset: int) -> int:
    """1-based number of the line starting at ``offset`` of ``data``."""
    return data.count(b"\n", 0, offset) + 1
