"""In-memory file trees: path checks, unified diffs and line counts, like git would report them.

A tree is a plain ``dict[str, bytes]`` keyed by ``/``-separated paths relative to its root.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Protocol

from ports import TRUNCATION_MARKER, PortError

Content = bytes | str
"""File content as a test writes it; ``str`` is stored as UTF-8."""


class Workdirs(Protocol):
    """Finds the live file tree behind a workdir path (a fake worktree), or ``None``."""

    def files_at(self, workdir: str) -> MutableMapping[str, bytes] | None: ...


def as_bytes(data: Content) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def tree_of(files: Mapping[str, Content], *, port: str) -> dict[str, bytes]:
    """A tree from test input, every path checked."""
    return {check_relpath(path, port=port): as_bytes(data) for path, data in files.items()}


def check_relpath(path: str, *, port: str) -> str:
    """``path`` normalised, or ``PortError("invalid")`` if it is empty or leaves its root."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        raise PortError("invalid", f"path {path!r} must be relative and inside the root", port=port)
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise PortError("invalid", f"path {path!r} must stay inside the root", port=port)
    return "/".join(parts)


def is_under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` itself or lies in the directory ``prefix``."""
    return path == prefix or path.startswith(prefix + "/")


def without(tree: Mapping[str, bytes], prefixes: Iterable[str]) -> dict[str, bytes]:
    """``tree`` minus every path under one of ``prefixes``."""
    cut = tuple(prefixes)
    return {p: data for p, data in tree.items() if not any(is_under(p, x) for x in cut)}


def within(tree: Mapping[str, bytes], prefixes: Iterable[str]) -> dict[str, bytes]:
    """The part of ``tree`` under one of ``prefixes``."""
    cut = tuple(prefixes)
    return {p: data for p, data in tree.items() if any(is_under(p, x) for x in cut)}


def changed_paths(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[str]:
    """Paths added, modified or deleted between two trees, sorted."""
    return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))


def tree_id(tree: Mapping[str, bytes], *parts: str) -> str:
    """A deterministic 40-hex id of a tree (plus whatever else makes a commit unique)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode() + b"\0")
    for path in sorted(tree):
        content = hashlib.sha1(tree[path], usedforsecurity=False).digest()
        digest.update(path.encode() + b"\0" + content)
    return digest.hexdigest()


def _lines(data: bytes | None) -> list[str] | None:
    """Text lines, ``[]`` for a missing file, ``None`` for binary content."""
    if data is None:
        return []
    try:
        return data.decode().splitlines()
    except UnicodeDecodeError:
        return None


def line_counts(old: bytes | None, new: bytes | None) -> tuple[int, int]:
    """(additions, deletions) between two versions of a file; binary files count 0."""
    before, after = _lines(old), _lines(new)
    if before is None or after is None:
        return 0, 0
    added = deleted = 0
    for line in difflib.unified_diff(before, after, n=0, lineterm=""):
        if line.startswith(("+++", "---", "@@")):
            continue
        added += line.startswith("+")
        deleted += line.startswith("-")
    return added, deleted


def unified_patch(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> str:
    """A git-style unified diff of every changed path, in path order."""
    chunks: list[str] = []
    for path in changed_paths(old, new):
        before, after = old.get(path), new.get(path)
        chunks.append(f"diff --git a/{path} b/{path}")
        if before is None:
            chunks.append("new file")
        elif after is None:
            chunks.append("deleted file")
        source = f"a/{path}" if before is not None else "/dev/null"
        target = f"b/{path}" if after is not None else "/dev/null"
        old_lines, new_lines = _lines(before), _lines(after)
        if old_lines is None or new_lines is None:
            chunks.append(f"Binary files {source} and {target} differ")
            continue
        body = difflib.unified_diff(old_lines, new_lines, source, target, lineterm="")
        chunks.extend(body)
    return "\n".join(chunks) + "\n" if chunks else ""


def cut_patch(patch: str, max_bytes: int) -> str:
    """``patch`` if it fits in ``max_bytes``, else its whole lines that fit plus a marker line."""
    raw = patch.encode()
    if len(raw) <= max_bytes:
        return patch
    kept = raw[: max(max_bytes, 0)].decode(errors="ignore")
    kept = kept[: kept.rfind("\n") + 1]
    return kept + TRUNCATION_MARKER.format(max_bytes=max_bytes) + "\n"
