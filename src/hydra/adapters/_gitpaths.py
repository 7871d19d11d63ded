"""Names, branches and paths the git adapters accept, and how they reach git safely.

Everything a caller names is checked here before git or the file system sees it: worktree
names are one plain directory name, paths are relative and stay inside their root (also after
symlinks are resolved), branch names follow ``git check-ref-format --branch`` (git rejects
whatever slips through). Paths reach git only as ``literal`` pathspecs, so ``*`` or ``:`` in a
file name is never a pattern or magic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from ports import PortError

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_BAD_REF: Final = re.compile(
    r"^[-/.]|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{|//|/$|/\.|\.lock(/|$)|\.$|^@$"
)


def is_name(name: str) -> bool:
    """Whether ``name`` is a valid worktree name (see :func:`check_name`)."""
    return _NAME.fullmatch(name) is not None and ".." not in name


def check_name(name: str, *, port: str) -> str:
    """A worktree name: one directory name of letters, digits, ``.``, ``_`` or ``-``."""
    if not is_name(name):
        raise PortError(
            "invalid",
            f"worktree name {name!r}: 1 to 100 letters, digits, '.', '_' or '-' "
            "starting with a letter or digit; no path separators",
            port=port,
        )
    return name


def check_branch(branch: str, *, port: str, what: str = "branch") -> str:
    """A branch name git would accept (``HEAD`` and option-like names are refused too)."""
    if not branch or branch == "HEAD" or len(branch) > 200 or _BAD_REF.search(branch):
        raise PortError("invalid", f"{what} {branch!r} is not a valid branch name", port=port)
    return branch


def check_relpath(path: str, *, port: str) -> str:
    """``path`` normalised (``/``-separated, no ``.``), or ``PortError("invalid")``.

    Refused: empty, absolute, ``..`` anywhere, a ``.git`` part, backslashes, control
    characters.
    """
    if not path or path.startswith("/") or "\\" in path or re.search(r"[\x00-\x1f]", path):
        raise PortError(
            "invalid", f"path {path!r} must be relative to the worktree and printable", port=port
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise PortError("invalid", f"path {path!r} must stay inside the worktree", port=port)
    if ".git" in parts:
        raise PortError("invalid", f"path {path!r}: git's own files are off limits", port=port)
    return "/".join(parts)


def contained(root: Path, path: Path, *, port: str, what: str) -> Path:
    """``path`` resolved (symlinks followed); ``PortError("invalid")`` if it leaves ``root``."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise PortError("invalid", f"{what} {str(path)!r} cannot be resolved", port=port) from None
    if not resolved.is_relative_to(root.resolve()):
        raise PortError(
            "invalid",
            f"{what} {str(path)!r} resolves to {str(resolved)!r}, outside {root}",
            port=port,
        )
    return resolved


def is_under(path: str, prefixes: Iterable[str]) -> bool:
    """``path`` is one of ``prefixes`` or lies in one of those directories."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def literal(path: str) -> str:
    return f":(top,literal){path}"


def pathspec(exclude: Sequence[str]) -> list[str]:
    """The whole tree from the top, minus ``exclude``."""
    return [":(top)", *(f":(top,exclude,literal){path}" for path in exclude)]


_ESCAPES: Final = {
    ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
    ord("r"): 13, ord('"'): 34, ord("\\"): 92,
}  # fmt: skip


def unquote(raw: bytes) -> str:
    """A path as git prints it without ``-z``: verbatim, or C-quoted when it holds odd bytes."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return raw.decode(errors="surrogateescape")
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        byte = body[i]
        if byte == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if 48 <= nxt <= 55:  # \ooo: one raw byte in octal
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(byte)
        i += 1
    return out.decode(errors="surrogateescape")
