from __future__ import annotations

import pytest

from hydra.runner import Captured, StdoutLine
from hydra.runner._capture import HeadTailBuffer, LineSplitter


def feed_all(buffer: HeadTailBuffer, data: bytes, chunk: int) -> Captured:
    for start in range(0, len(data), chunk):
        buffer.feed(data[start : start + chunk])
    return buffer.snapshot()


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1000])
@pytest.mark.parametrize("size", [0, 5, 10, 15, 20, 21, 500])
def test_head_and_tail_are_the_first_and_last_bytes(size: int, chunk: int) -> None:
    data = bytes(i % 251 for i in range(size))
    captured = feed_all(HeadTailBuffer(10, 10), data, chunk)
    assert captured.head == data[:10]
    assert captured.tail == data[10:][-10:]
    assert captured.total_bytes == size
    assert captured.dropped_bytes == max(0, size - 20)
    assert len(captured.head) + len(captured.tail) + captured.dropped_bytes == size


def test_zero_limits_keep_nothing_but_count() -> None:
    captured = feed_all(HeadTailBuffer(0, 0), b"abcdef", 2)
    assert captured == Captured(b"", b"", 6, 6)


def test_text_marks_the_gap() -> None:
    captured = feed_all(HeadTailBuffer(4, 4), b"head-middle-tail", 5)
    assert captured.text() == "head\n…[8 bytes dropped]…\ntail"
    assert not captured.complete


def test_text_of_complete_output_is_the_output() -> None:
    snowman = "☃".encode()
    # The multi-byte character straddles head and tail: still decoded whole.
    captured = feed_all(HeadTailBuffer(2, 10), b"a" + snowman + b"b", 1)
    assert captured.complete
    assert captured.text() == "a☃b"


def test_text_never_raises_on_bad_bytes() -> None:
    assert Captured(b"\xff\xfeok").text() == "\ufffd\ufffdok"


def test_splitter_yields_lines_across_chunks() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\ntw") == [b"one"]
    assert splitter.feed(b"o\n\nthr") == [b"two", b""]
    assert splitter.flush() == b"thr"
    assert splitter.flush() is None


def test_splitter_truncates_long_lines_and_flags_them() -> None:
    splitter = LineSplitter(4)
    lines = splitter.feed(b"abcdefgh") + splitter.feed(b"ij\nxy\n")
    assert lines == [b"abcd", b"xy"]
    assert isinstance(lines[0], StdoutLine)
    assert lines[0].truncated
    assert lines[0].dropped_bytes == 6
    assert not lines[1].truncated


def test_stdout_line_is_bytes() -> None:
    line = StdoutLine(b"data", 3)
    assert isinstance(line, bytes)
    assert line == b"data"
    assert line.decode() == "data"
