"""What the CLI tests share: a data dir seeded through the real audit writer and cost ledger."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio

from hydra.audit import AuditLog, follow
from hydra.costs import CostLedger
from tests.helpers.daemon import run_cli

CONTROL = (
    ("daemon.started", "daemon", {"pid": 1}, None),
    ("loop.disabled", "alice", {"loop": "health", "reason": "too noisy"}, None),
    ("loop.enabled", "bob", {"loop": "health", "reason": "fixed"}, None),
)
HEALTH = (
    ("tick.started", "loop:health", {"trigger": "startup"}, "run-1"),
    ("tick.finished", "loop:health", {"status": "ok"}, "run-1"),
    ("tick.started", "loop:health", {"trigger": "manual"}, "run-2"),
    ("tick.finished", "loop:health", {"status": "warning"}, "run-2"),
)
COSTS = (
    ("agent.claude:preflight", "preflight", "run-a", 0.5, 1000, 200),
    ("agent.claude:preflight", "preflight", "run-b", 0.25, 500, 100),
    ("agent.codex:review_advisor", "review_advisor", "run-c", 1.0, 3000, 400),
)


def seed(data_dir: Path) -> None:
    """Streams ``control`` and ``health`` with the records above, and the ``costs`` stream."""

    async def write() -> None:
        async with AuditLog(data_dir / "audit") as audit:
            for name, records in (("control", CONTROL), ("health", HEALTH)):
                stream = await audit.stream(name)
                for action, actor, payload, run in records:
                    await stream.append(action, actor=actor, payload=payload, run=run)
            ledger = CostLedger(await audit.stream("costs"))
            for source, loop, run_id, usd, tin, tout in COSTS:
                await ledger.record(
                    source=source,
                    loop=loop,
                    run=run_id,
                    model="m",
                    input_tokens=tin,
                    output_tokens=tout,
                    usd=usd,
                )

    anyio.run(write)


def hydra(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, rc: int = 0
) -> subprocess.CompletedProcess[str]:
    """The real ``hydra`` console script; asserts its exit code."""
    done = run_cli(list(args), cwd=cwd, env=env)
    assert done.returncode == rc, (args, done.returncode, done.stdout, done.stderr)
    return done


def one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The single ``hydra: …`` line a failed command prints on stderr (nothing on stdout)."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("hydra: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert done.stdout == ""
    return lines[0]


async def wait_for_record(
    audit_root: Path,
    stream: str,
    predicate: Callable[[dict[str, object]], bool],
) -> dict[str, object]:
    """The first record of ``stream`` (old or new) for which ``predicate`` holds.

    Follows the file the daemon appends to (:func:`hydra.audit.follow`, in a worker thread);
    wrap it in ``anyio.fail_after``: the follower stops when the wait is cancelled.
    """
    stop = threading.Event()

    def scan() -> dict[str, object] | None:
        for record in follow(audit_root, stream, from_end=False, poll_interval=0.02, stop=stop):
            if predicate(record):
                return record
        return None

    try:
        found = await anyio.to_thread.run_sync(scan, abandon_on_cancel=True)
    finally:
        stop.set()
    assert found is not None
    return found


def change_a_payload_mid_stream(data_dir: Path) -> None:
    """Change a payload in the middle of the seeded ``health`` stream: the line still parses,
    but its hash no longer matches (what ``hydra audit verify`` must find)."""
    segment = data_dir / "audit" / "health" / "00000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"status":"ok"', b'"status":"OK"')
    segment.write_bytes(b"".join(lines))
