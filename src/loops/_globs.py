"""Path globs for loop options (protected paths, risk rules).

The syntax is the small, familiar subset of gitignore-style patterns, matched against
``/``-separated paths relative to the repository root:

* ``*`` matches any run of characters inside one path segment, ``?`` one character;
* ``**`` as a whole segment matches zero or more segments (``src/**`` is everything under
  ``src``, ``**/*.lock`` a lock file at any depth);
* a pattern without ``/`` matches the file name at any depth (``*.md`` is ``**/*.md``);
* a pattern with ``/`` is anchored at the root (a leading ``/`` is allowed and ignored);
* a trailing ``/`` means "everything under" (``docs/`` is ``docs/**``).

Nothing else is special: ``[``, ``{`` and ``\\`` match themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

_P = TypeVar("_P", bound=Iterable[str])

__all__ = ["check_globs", "compile_glob", "first_match", "matches", "matching_paths"]


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression equivalent to ``pattern`` (cached)."""
    text = pattern.strip().removeprefix("/")
    if not text:
        raise ValueError("an empty path pattern matches nothing")
    if text.endswith("/"):
        text += "**"
    if "/" not in text:
        text = "**/" + text
    parts = text.split("/")
    out: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_segment(part) + ("" if last else "/"))
    return re.compile("".join(out))


def check_globs(patterns: _P) -> _P:
    """``patterns`` if each compiles (for option validators), else ``ValueError``."""
    for pattern in patterns:
        compile_glob(pattern)
    return patterns


def _segment(part: str) -> str:
    pieces = []
    for char in part:
        if char == "*":
            pieces.append("[^/]*")
        elif char == "?":
            pieces.append("[^/]")
        else:
            pieces.append(re.escape(char))
    return "".join(pieces)


def matches(path: str, pattern: str) -> bool:
    """Whether the repository-relative ``path`` matches ``pattern``."""
    return compile_glob(pattern).fullmatch(path.strip("/")) is not None


def first_match(path: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` that ``path`` matches, or ``None``."""
    return next((p for p in patterns if matches(path, p)), None)


def matching_paths(paths: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The paths (sorted, unique) that match at least one of ``patterns``."""
    wanted = tuple(patterns)
    return sorted({p for p in paths if first_match(p, wanted) is not None})
