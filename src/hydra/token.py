"""The API bearer token: from settings / ``HYDRA_API_TOKEN``, or generated into the data dir."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from hydra.settings import HydraSettings
from hydra.statefile import write_bytes_atomic

TOKEN_FILE = "api-token"  # noqa: S105 - a file name, not a secret


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def ensure_token(settings: HydraSettings, data_dir: Path) -> tuple[str, bool]:
    """The token and whether it was generated just now.

    A generated token is written with mode 0600 (owner read/write only); an existing token file
    readable by others is tightened to 0600. The daemon calls this with the data dir's lock held.
    The file is written atomically (temp file, fsync, rename, directory fsync): a crash never
    leaves an empty or partial token behind, and an empty one left by an older version is
    replaced.
    """
    if settings.api_token is not None:
        return settings.api_token.get_secret_value(), False
    path = token_path(data_dir)
    existing = _stored_token(path)
    if existing:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        return existing, False
    token = secrets.token_urlsafe(32)
    write_bytes_atomic(path, token.encode() + b"\n", mode=0o600)
    return token, True


def read_token(data_dir: Path) -> str | None:
    """The token stored in the data dir, if any (``HYDRA_API_TOKEN`` wins when set)."""
    env = os.environ.get("HYDRA_API_TOKEN", "").strip()
    if env:
        return env
    return _stored_token(token_path(data_dir))


def _stored_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
