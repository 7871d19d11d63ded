"""What opening a stream does with a torn tail (repair) and with mid-file damage (refuse)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import anyio
import orjson
import pytest

from hydra.audit import (
    AuditLog,
    DamageReport,
    StreamDamaged,
    force_repair,
    iter_records,
    verify,
)
from tests.audit.conftest import make_stream

pytestmark = pytest.mark.anyio

RECORDS = 6
SEGMENT = "00000001.jsonl"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "audit"
    make_stream(root, "control", RECORDS)
    return root


def _copy(pristine: Path, target: Path) -> Path:
    shutil.copytree(pristine, target)
    return target / "control" / SEGMENT


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    for index, byte in enumerate(data):
        if byte == 0x0A and index + 1 < len(data):
            starts.append(index + 1)
    return starts


async def _reopen_and_append(root: Path) -> tuple[DamageReport | None, dict[str, object] | None]:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            if stream.damage is not None:
                with pytest.raises(StreamDamaged, match="is damaged"):
                    await stream.append("after", actor="test")
                return stream.damage, None
            return None, await stream.append("after", actor="test")


def _check_tail_repair(root: Path, original: bytes, start: int, cut: bytes) -> None:
    records = list(iter_records(root, "control"))
    assert [r["seq"] for r in records] == list(range(1, RECORDS + 2))
    repaired, after = records[-2], records[-1]
    assert repaired["action"] == "audit.repaired"
    assert repaired["actor"] == "audit"
    payload = repaired["payload"]
    assert isinstance(payload, dict)
    assert payload["segment"] == SEGMENT
    assert payload["offset"] == start
    assert payload["dropped_bytes"] == len(cut)
    broken = root / "control" / str(payload["broken_file"])
    assert broken.name.startswith(SEGMENT + ".")
    assert broken.name.endswith(".broken")
    assert broken.read_bytes() == cut
    assert (root / "control" / SEGMENT).read_bytes()[:start] == original[:start]
    assert after["prev"] == repaired["hash"]
    assert verify(root, "control").ok


async def test_truncating_the_last_record_at_every_offset(pristine: Path, tmp_path: Path) -> None:
    original = (pristine / "control" / SEGMENT).read_bytes()
    start = _line_starts(original)[-1]
    for cut_at in range(start, len(original)):
        root = tmp_path / f"t{cut_at}"
        segment = _copy(pristine, root)
        with segment.open("r+b") as handle:
            handle.truncate(cut_at)
        damage, appended = await _reopen_and_append(root)
        assert damage is None, cut_at
        assert appended is not None
        if cut_at == start:  # a whole record gone is not damage: it was never acknowledged
            assert [r["action"] for r in iter_records(root, "control")][-1] == "after"
            assert appended["seq"] == RECORDS
            continue
        _check_tail_repair(root, original, start, original[start:cut_at])
        shutil.rmtree(root)


def _garbage(rng: random.Random, size: int, *, newlines: bool) -> bytes:
    data = bytearray(rng.randbytes(size))
    for index, byte in enumerate(data):
        if byte == 0x0A and not newlines:
            data[index] = 0x20
    if newlines:
        for index in rng.sample(range(size), k=min(4, size)):
            data[index] = 0x0A
        data[-1] = 0x0A
    return bytes(data)


@pytest.mark.parametrize("kind", ["zeros", "garbage", "garbage-with-newlines", "json-like"])
async def test_overwritten_last_record_is_cut(pristine: Path, tmp_path: Path, kind: str) -> None:
    original = (pristine / "control" / SEGMENT).read_bytes()
    start = _line_starts(original)[-1]
    size = len(original) - start
    rng = random.Random(kind)
    for attempt in range(5):
        if kind == "zeros":
            tail = bytes(size)
        elif kind == "json-like":  # right shape, wrong bytes: a half-overwritten record
            tail = original[start : start + size // 2] + bytes(size - size // 2 - 1) + b"\n"
        else:
            tail = _garbage(rng, size, newlines=kind == "garbage-with-newlines")
        root = tmp_path / f"{kind}-{attempt}"
        segment = _copy(pristine, root)
        segment.write_bytes(original[:start] + tail)
        damage, appended = await _reopen_and_append(root)
        assert damage is None
        assert appended is not None
        _check_tail_repair(root, original, start, tail)


@pytest.mark.parametrize("where", ["payload", "seq", "hash", "brace", "newline", "prev"])
async def test_a_flipped_bit_mid_file_is_damage_not_repair(
    pristine: Path, tmp_path: Path, where: str
) -> None:
    original = (pristine / "control" / SEGMENT).read_bytes()
    starts = _line_starts(original)
    middle = 2  # 0-based: the third of six records
    line = original[starts[middle] : starts[middle + 1]]
    position = {
        "payload": line.index(b'"note"') + 2,
        "seq": line.index(b'"seq":') + 6,
        "hash": line.index(b'"hash":"') + 20,
        "brace": 0,
        "newline": len(line) - 1,
        "prev": line.index(b'"prev":"') + 10,
    }[where]
    root = tmp_path / "root"
    segment = _copy(pristine, root)
    data = bytearray(original)
    data[starts[middle] + position] ^= 0x01
    segment.write_bytes(bytes(data))

    damage, _ = await _reopen_and_append(root)
    assert damage is not None
    assert (damage.segment.name, damage.line, damage.offset) == (SEGMENT, 3, starts[middle])
    assert segment.read_bytes() == bytes(data)  # never repaired silently
    assert not list((root / "control").glob("*.broken"))

    report = verify(root, "control")
    assert not report.ok
    first = report.findings[0]
    assert (first.segment.name, first.line, first.offset) == (SEGMENT, 3, starts[middle])
    assert "line 3" in str(damage)
    assert f"{SEGMENT}:3 (byte {starts[middle]})" in report.format()

    fixed = force_repair(root, "control")
    assert fixed.repaired
    assert fixed.offset == starts[middle]
    assert fixed.dropped_bytes == len(original) - starts[middle]
    assert fixed.broken_files[0].read_bytes() == bytes(data[starts[middle] :])
    assert fixed.record is not None
    assert fixed.record["payload"] == {
        "segment": SEGMENT,
        "offset": starts[middle],
        "dropped_bytes": fixed.dropped_bytes,
        "broken_file": fixed.broken_files[0].name,
        "reason": fixed.reason,
        "forced": True,
        "broken_files": [fixed.broken_files[0].name],
    }
    assert verify(root, "control").ok
    damage, appended = await _reopen_and_append(root)
    assert damage is None
    assert appended is not None
    assert appended["seq"] == middle + 2
    assert appended["prev"] == fixed.record["hash"]
    assert verify(root, "control").ok


async def test_damage_in_the_last_line_of_a_rotated_segment_is_found_at_open(
    tmp_path: Path,
) -> None:
    make_stream(tmp_path, "control", 20, segment_max_bytes=1500)
    segments = sorted((tmp_path / "control").glob("*.jsonl"))
    assert len(segments) >= 3
    previous = segments[-2]
    data = bytearray(previous.read_bytes())
    data[-30] ^= 0x01
    previous.write_bytes(bytes(data))
    damage, _ = await _reopen_and_append(tmp_path)
    assert damage is not None
    assert damage.segment == previous

    fixed = force_repair(tmp_path, "control")
    assert fixed.segment == previous
    assert [p.name for p in fixed.broken_files][1:] == [
        f"{segments[-1].name}." + p.name.split(".", 2)[2] for p in fixed.broken_files[1:]
    ]
    assert not segments[-1].exists()  # the later segment was moved aside whole
    assert verify(tmp_path, "control").ok
    damage, appended = await _reopen_and_append(tmp_path)
    assert damage is None
    assert appended is not None


def test_force_repair_of_a_valid_stream_changes_nothing(tmp_path: Path) -> None:
    make_stream(tmp_path, "control", 3)
    before = (tmp_path / "control" / SEGMENT).read_bytes()
    report = force_repair(tmp_path, "control")
    assert not report.repaired
    assert "nothing changed" in report.format()
    assert (tmp_path / "control" / SEGMENT).read_bytes() == before
    with pytest.raises(FileNotFoundError):
        force_repair(tmp_path, "missing")


def test_repaired_record_payload_is_valid_json(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    segment = _copy(pristine, root)
    with segment.open("ab") as handle:
        handle.write(b"\x00" * 100)
    report = force_repair(root, "control")
    assert report.repaired
    assert report.dropped_bytes == 100
    line = segment.read_bytes().splitlines()[-1]
    assert orjson.loads(line)["payload"]["dropped_bytes"] == 100
