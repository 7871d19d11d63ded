"""Setting up one linked Hydra worktree: its own config and the pre-push hook; committing in it.

Linked worktrees share the repository's config and hooks directory, so nothing that applies
to one Hydra worktree may be written there. Instead the repository gets
``extensions.worktreeConfig`` (once) and each worktree keeps its settings in its own
``config.worktree``:

* ``core.hooksPath`` -> Hydra's hooks directory, whose ``pre-push`` refuses every push; the
  operator's main worktree keeps its own hooks;
* ``protocol.allow = never``: git reaches no other repository from the worktree, so a push
  fails even with ``--no-verify`` (which skips the hook), whatever remote or URL it names;
* ``hydra.base`` (the commit the branch started from) and ``hydra.branch`` (the branch made for
  the worktree, the only one ``remove_worktree(delete_branch=True)`` may delete) — the
  worktree's metadata lives and dies with the worktree. A worktree with excluded paths is no
  linked worktree but an isolated checkout (:mod:`._gitisolated`); ``hydra.exclude`` (a JSON
  list) is still read, for worktrees made by earlier versions.

Once an agent has worked in a worktree, its config and files are the agent's: the daemon
commits there with plumbing only (:mod:`._gitstage`), never ``git add`` or ``git commit``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hydra.adapters._gitcli import Git
from hydra.adapters._gitfiles import scratch_index
from hydra.adapters._gitstage import UNTRUSTED, stage_tree
from hydra.statefile import temp_path
from ports import PortError

PRE_PUSH: Final = b"""#!/bin/sh
# Installed by Hydra: this worktree's core.hooksPath points here (git config --worktree).
echo "hydra: no pushes from a Hydra worktree; work is published as Hydra change requests" >&2
exit 1
"""


def install_hooks(directory: Path) -> None:
    """Write the refusing ``pre-push`` into ``directory`` (atomic, idempotent). Blocking."""
    directory.mkdir(parents=True, exist_ok=True)
    hook = directory / "pre-push"
    if hook.is_file() and os.access(hook, os.X_OK) and hook.read_bytes() == PRE_PUSH:
        return
    # Unique per thread, not only per process: worktrees made at the same time (two preflight
    # attempts, two loops) install the hook concurrently from worker threads. Named like the
    # state files' temp files, so the daemon's start-up sweep removes one a killed writer left.
    scratch = temp_path(hook)
    scratch.write_bytes(PRE_PUSH)
    scratch.chmod(0o755)
    scratch.replace(hook)


@dataclass(frozen=True)
class Registered:
    """One entry of ``git worktree list``."""

    path: Path
    head: str
    branch: str | None
    """Short branch name, ``None`` when detached (or bare)."""
    prunable: bool


def parse_worktree_list(fields: Sequence[str]) -> list[Registered]:
    """Entries of ``git worktree list --porcelain -z`` (attributes, an empty field between)."""
    found: list[Registered] = []
    entry: dict[str, str] = {}
    for field in [*fields, ""]:
        if field:
            key, _, value = field.partition(" ")
            entry[key] = value
            continue
        if "worktree" in entry:
            branch = entry.get("branch")
            found.append(
                Registered(
                    path=Path(entry["worktree"]),
                    head=entry.get("HEAD", ""),
                    branch=branch.removeprefix("refs/heads/") if branch else None,
                    prunable="prunable" in entry,
                )
            )
        entry = {}
    return found


@dataclass(frozen=True)
class Meta:
    base: str
    exclude: tuple[str, ...]
    branch: str | None = None
    """The branch the worktree was made for (``hydra.branch``)."""


async def enable_worktree_config(git: Git, repo: Path) -> None:
    """Turn on ``extensions.worktreeConfig`` (repository format 1) unless it is on.

    Two callers racing here both want the same end state: a write that fails because the
    config file was locked by the other is fine once the setting reads back as on.
    """

    async def enabled() -> bool:
        key = ["config", "--local", "--type=bool", "--get", "extensions.worktreeConfig"]
        return (await git.run(key, cwd=repo, ok=(0, 1))).text() == "true"

    if await enabled():
        return
    try:
        version = await git.run(
            ["config", "--local", "--get", "core.repositoryformatversion"], cwd=repo, ok=(0, 1)
        )
        if version.text() in ("", "0"):
            await git.run(["config", "--local", "core.repositoryformatversion", "1"], cwd=repo)
        await git.run(["config", "--local", "extensions.worktreeConfig", "true"], cwd=repo)
    except PortError:
        if not await enabled():
            raise


NO_TRANSPORT: Final = ("protocol.allow", "never")
"""Set in every checkout an agent works in: no fetch, no push (``--no-verify`` included)."""


async def configure(git: Git, path: Path, *, base: str, branch: str, hooks: Path) -> None:
    """Give a ``--no-checkout`` worktree its config, then check it out."""

    async def setting(key: str, value: str) -> None:
        await git.run(["config", "--worktree", key, value], cwd=path)

    await setting("core.hooksPath", str(hooks))
    await setting(*NO_TRANSPORT)
    await setting("hydra.branch", branch)
    await setting("hydra.base", base)
    await git.run(["read-tree", "-m", "-u", "HEAD"], cwd=path)


async def commit_checkout(
    git: Git, path: Path, exclude: Sequence[str], message: str, *, branch: str | None
) -> str | None:
    """Commit everything in the linked worktree at ``path`` but ``exclude`` (which keeps
    ``HEAD``'s version) onto its ``HEAD``; the commit, or ``None`` when nothing changed.

    ``HEAD`` must still be ``branch``, the branch the worktree was made for: an agent that
    switched to another branch (the operator's ``develop``, say) or detached ``HEAD`` gets a
    ``conflict`` and nothing is committed, so work never lands on a branch Hydra did not make.

    Plumbing only (:mod:`._gitstage`): the tree is built in a scratch index, committed with
    ``commit-tree``, ``HEAD`` moved with ``update-ref`` only from the head it was read at, and
    the worktree's index reset to the new tree (so the agent's ``git status`` starts clean).
    """
    if branch is not None:
        await _on_branch(git, path, branch)
    head = await _head(git, path)
    async with scratch_index() as index:
        tree = await stage_tree(git, path, start=head, exclude=exclude, index=index)
    if tree == await _tree_of(git, path, head):
        return None
    made = ["commit-tree", tree, "-p", head, "-F", "-"]
    commit = (await git.run(made, cwd=path, stdin=message.encode(), config=UNTRUSTED)).text()
    move = ["update-ref", "-m", "hydra: commit", "HEAD", commit, head]
    if (await git.run(move, cwd=path, ok=(0, 1, 128), config=UNTRUSTED)).code != 0:
        raise git.error("conflict", f"{path}: HEAD moved from {head} during the commit")
    await git.run(["read-tree", commit], cwd=path, config=UNTRUSTED)
    return commit


async def _on_branch(git: Git, path: Path, branch: str) -> None:
    found = await git.run(["symbolic-ref", "-q", "HEAD"], cwd=path, ok=(0, 1), config=UNTRUSTED)
    where = found.text() if found.code == 0 else "detached"
    if where != f"refs/heads/{branch}":
        raise git.error(
            "conflict",
            f"{path}: HEAD is {where}, not the worktree's branch {branch!r}; nothing committed",
        )


async def _head(git: Git, path: Path) -> str:
    found = await git.run(["rev-parse", "--verify", "HEAD^{commit}"], cwd=path, config=UNTRUSTED)
    return found.text()


async def _tree_of(git: Git, path: Path, commit: str) -> str:
    found = await git.run(["rev-parse", "--verify", f"{commit}^{{tree}}"], cwd=path)
    return found.text()


async def read_meta(git: Git, path: Path, name: str) -> Meta:
    """The worktree's ``hydra.*`` settings; ``not_found`` when it has none (not Hydra's)."""
    out = await git.run(
        ["config", "--worktree", "--get-regexp", "-z", r"^hydra\."], cwd=path, ok=(0, 1)
    )
    values = dict(field.partition("\n")[::2] for field in out.fields())
    base = values.get("hydra.base")
    if not base:
        raise git.error("not_found", f"worktree {name!r} was not set up by Hydra (no hydra.base)")
    try:
        exclude = json.loads(values.get("hydra.exclude") or "[]")
    except ValueError:
        raise git.error("failed", f"worktree {name!r}: unreadable hydra.exclude") from None
    if not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude):
        raise git.error("failed", f"worktree {name!r}: hydra.exclude is not a list of paths")
    return Meta(base=base, exclude=tuple(exclude), branch=values.get("hydra.branch") or None)
