"""The files a change touches, with status and line counts, from ``git diff -z``.

Two reads of the same range: ``--name-status`` for what happened to each path and
``--numstat`` for the line counts (binary files count 0, as the Fakes do). With rename
detection a moved file is one ``renamed`` entry under its new path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from hydra.adapters._gitcli import Git
from ports import ChangedFile
from ports.changes import FileStatus

_FLAGS: Final = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "-z")
_STATUS: Final[dict[str, FileStatus]] = {"A": "added", "D": "deleted", "R": "renamed", "C": "added"}


async def file_changes(git: Git, repo: Path, revisions: str) -> list[ChangedFile]:
    """Every path changed in ``revisions`` (``base...head``), sorted by path."""
    names = await git.run(["diff", "--name-status", *_FLAGS, revisions, "--"], cwd=repo)
    counts = await git.run(["diff", "--numstat", *_FLAGS, revisions, "--"], cwd=repo)
    lines = parse_numstat(counts.fields())
    return [
        ChangedFile(path, status, *lines.get(path, (0, 0)))
        for path, status in sorted(parse_name_status(names.fields()).items())
    ]


def parse_name_status(fields: Sequence[str]) -> dict[str, FileStatus]:
    """``{new path: status}`` from ``--name-status -z`` (``R<score>`` takes two paths)."""
    found: dict[str, FileStatus] = {}
    i = 0
    while i < len(fields):
        code = fields[i][:1]
        if code in ("R", "C"):
            found[fields[i + 2]] = _STATUS[code]
            i += 3
        else:
            found[fields[i + 1]] = _STATUS.get(code, "modified")  # M, T (type change), U
            i += 2
    return found


def parse_numstat(fields: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``{new path: (additions, deletions)}`` from ``--numstat -z``."""
    found: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(fields):
        added, deleted, path = fields[i].split("\t", 2)
        if path:
            i += 1
        else:  # a rename: the old and the new path follow as fields of their own
            path = fields[i + 2]
            i += 3
        found[path] = (_count(added), _count(deleted))
    return found


def _count(text: str) -> int:
    return int(text) if text.isdigit() else 0  # "-" for a binary file
