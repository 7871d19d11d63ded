"""``<data>/daemon.json``: where the running daemon listens, for the CLI to find it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson
import psutil

from hydra.statefile import write_json_atomic

INFO_FILE = "daemon.json"


def write_daemon_info(data_dir: Path, *, pid: int, url: str, started_at: str) -> None:
    write_json_atomic(data_dir / INFO_FILE, {"pid": pid, "url": url, "started_at": started_at})


def remove_daemon_info(data_dir: Path, *, pid: int) -> None:
    info = read_daemon_info(data_dir)
    if info is not None and info.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / INFO_FILE).unlink()


def read_daemon_info(data_dir: Path) -> dict[str, Any] | None:
    """The info of a live daemon, or ``None`` (no file, or its process is gone)."""
    try:
        info = orjson.loads((data_dir / INFO_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    if not psutil.pid_exists(info["pid"]):
        return None
    return info
