"""Operations on a data dir while no daemon runs on it (the offline andon cord)."""

from __future__ import annotations

from pathlib import Path

import filelock

from hydra.audit import AuditLog
from hydra.switches import SwitchBoard


class DataDirBusy(Exception):
    """A daemon holds the data dir (it runs but did not answer)."""


def _lock(data_dir: Path) -> filelock.BaseFileLock:
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(data_dir / "daemon.lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise DataDirBusy(
            f"a hydra daemon holds {data_dir} but does not answer its API; stop it with SIGTERM"
        ) from None
    return lock


async def pull_global_switch(data_dir: Path, reason: str, *, actor: str = "cli") -> None:
    """Persist the global switch off, audited in ``control``, for the next daemon start."""
    lock = _lock(data_dir)
    try:
        async with AuditLog(data_dir / "audit") as audit:
            control = await audit.stream("control")
            board = await SwitchBoard.load(data_dir / "state" / "switches.json", control, {})
            await board.set_global(enabled=False, actor=actor, reason=reason)
    finally:
        lock.release()
