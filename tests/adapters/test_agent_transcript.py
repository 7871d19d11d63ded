"""Agent transcripts: bounded, redacted, written once (even when cancelled), pruned."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from hydra.adapters._agent_transcript import Transcript
from hydra.redact import Redactor

pytestmark = pytest.mark.anyio

SECRET = "sk-ant-secret-value-0123456789"


def make(directory: Path, *, max_bytes: int = 1024 * 1024, keep: int = 10) -> Transcript:
    return Transcript(
        directory,
        provider="claude",
        source="tick/1",
        max_bytes=max_bytes,
        keep=keep,
        redactor=Redactor([SECRET]),
        max_event_bytes=2_000,
    )


def event(n: int, pad: int = 0) -> bytes:
    return json.dumps({"type": "assistant", "n": n, "pad": "x" * pad}).encode()


async def records(path: str | None) -> list[dict[str, object]]:
    assert path is not None
    text = await anyio.Path(path).read_text()
    return [json.loads(line) for line in text.splitlines()]


async def test_header_events_footer(tmp_path: Path) -> None:
    transcript = make(tmp_path)
    transcript.start(provider="claude", argv=["claude", "-p"], prompt="p" * 20_000)
    assert transcript.add(event(1)) == {"type": "assistant", "n": 1, "pad": ""}
    assert transcript.add(b"not json") is None
    transcript.finish(status="succeeded", usd=0.5)
    path = await transcript.save()
    assert path is not None
    assert Path(path).name.endswith("-claude-tick_1-" + Path(path).name[-14:])
    saved = await records(path)
    assert [r["type"] for r in saved] == ["hydra.run", "assistant", "hydra.raw", "hydra.end"]
    assert len(str(saved[0]["prompt"])) == 16 * 1024
    assert saved[2]["text"] == "not json"
    assert saved[-1]["usd"] == 0.5


async def test_size_is_bounded_head_and_tail_kept(tmp_path: Path) -> None:
    transcript = make(tmp_path, max_bytes=20_000)
    for n in range(1_000):
        transcript.add(event(n, pad=100))
    huge = event(1_000, pad=50_000)
    transcript.add(huge)  # one huge event: a stub
    transcript.finish(status="timeout")
    path = await transcript.save()
    assert path is not None
    assert (await anyio.Path(path).stat()).st_size < 21_000
    saved = await records(path)
    assert saved[0]["n"] == 0
    dropped = next(r for r in saved if r["type"] == "hydra.dropped")
    assert isinstance(dropped["events"], int)
    assert dropped["events"] > 800
    assert saved[-2] == {"type": "hydra.elided", "event_type": "assistant", "bytes": len(huge)}
    assert saved[-3]["n"] == 999
    assert saved[-1]["type"] == "hydra.end"


async def test_secrets_are_redacted(tmp_path: Path) -> None:
    transcript = make(tmp_path)
    transcript.start(argv=["claude"], prompt=f"use {SECRET}")
    transcript.add(json.dumps({"type": "user", "content": f"KEY={SECRET}"}).encode())
    transcript.add(json.dumps({"type": "user", "content": "ghp_" + "a" * 36}).encode())
    path = await transcript.save()
    assert path is not None
    text = await anyio.Path(path).read_text()
    assert SECRET not in text
    assert "ghp_" not in text
    assert text.count("[REDACTED]") == 3


async def test_a_cancelled_run_still_saves(tmp_path: Path) -> None:
    transcript = make(tmp_path)
    transcript.add(event(1))
    with anyio.CancelScope() as scope:
        scope.cancel()
        path = await transcript.save()
    assert path is not None
    assert (await records(path))[0]["n"] == 1


async def test_old_transcripts_are_pruned(tmp_path: Path) -> None:
    stranger = tmp_path / "notes.jsonl"
    stranger.write_text("{}\n")
    paths = []
    for n in range(5):
        transcript = make(tmp_path, keep=3)
        transcript.add(event(n))
        paths.append(await transcript.save())
    kept = sorted([p.name async for p in anyio.Path(tmp_path).iterdir()])
    assert kept == sorted([*(Path(str(p)).name for p in paths[-3:]), "notes.jsonl"])


async def test_an_unwritable_directory_gives_no_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    transcript = make(blocker / "sub")
    assert await transcript.save() is None
