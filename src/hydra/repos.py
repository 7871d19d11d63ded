"""Managed repositories: which checkouts the loops act on.

Settings list them under ``[repos.<name>]``; with none configured, the daemon manages the git
repository it was started in. Finding that repository walks up from the working directory to
the first ``.git`` entry (a directory, or a file in a linked worktree), without running git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ManagedRepo:
    name: str
    path: Path
    github: str | None = None
    """``owner/name`` on GitHub, for the ``github`` world."""
    base: str | None = None
    """The base branch; ``None`` means the repository's current default (``HEAD``)."""


def find_repo_root(start: Path) -> Path | None:
    """The top of the git checkout holding ``start``, or ``None``."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def default_repo_name(cwd: Path | None = None) -> str:
    """Name of the repository holding ``cwd`` (its directory name), else ``cwd``'s name."""
    here = (cwd or Path.cwd()).resolve()
    top = find_repo_root(here) or here
    return safe_repo_name(top.name)


def safe_repo_name(raw: str) -> str:
    """``raw`` made usable as a repository name (it names directories under the data dir)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", raw).lstrip("._-") or "repo"
    return cleaned[:100]


def default_repo(cwd: Path | None = None) -> ManagedRepo:
    here = (cwd or Path.cwd()).resolve()
    top = find_repo_root(here) or here
    return ManagedRepo(name=safe_repo_name(top.name), path=top)
