"""Identifiers that sort by time and read well in a terminal."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_run_id(now: datetime | None = None) -> str:
    """``20261122T101500Z-1a2b3c4d``: UTC second of the start plus 32 random bits."""
    moment = now or datetime.now(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def utc_iso(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, the format of every audit timestamp."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
