"""Identifiers that sort by time and read well in a terminal."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

_prefix_cache: tuple[int, str] = (-1, "")
_random = random.Random()  # noqa: S311 - identifiers, not cryptography


def new_run_id(now: float | None = None) -> str:
    """``20261122T101500Z-1a2b3c4d``: UTC second of the start plus 32 random bits.

    Not a secret, so a seeded PRNG (no system call per id) is enough for uniqueness.
    """
    global _prefix_cache  # noqa: PLW0603 - a one-entry cache of the formatted second
    second = int(time.time() if now is None else now)
    cached_second, prefix = _prefix_cache
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y%m%dT%H%M%SZ")
        _prefix_cache = (second, prefix)
    return f"{prefix}-{_random.getrandbits(32):08x}"


def utc_iso(moment: datetime | float) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, the format of every audit timestamp."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
