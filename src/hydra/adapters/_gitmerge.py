"""Merging a branch into its base without a merge in anybody's working tree.

1. ``git merge-tree --write-tree`` merges in the object store (git >= 2.38): no index and no
   working tree is touched, so a conflict leaves nothing to abort or clean up.
2. ``git commit-tree`` makes the ``--no-ff`` merge commit (base first parent, change second)
   with Hydra's identity.
3. The base branch moves to it, and how depends on whether some worktree has it checked out:

   * nobody has it: ``git update-ref`` with the old value, so a base that moved meanwhile is a
     ``conflict``, never a lost commit;
   * a worktree has it (typically the operator's main worktree): moving only the ref would
     leave that worktree's index and files behind, and its next ``git commit`` would silently
     revert the merge. So the merge goes ahead only when that worktree is clean (no staged or
     unstaged change to a tracked file), and then it is fast-forwarded like
     ``git merge --ff-only`` would (with no hooks): the files the change touches are updated,
     nothing else. With local changes the merge is refused with ``conflict`` and the
     operator's files, index and branch are left exactly as they were.
"""

from __future__ import annotations

from pathlib import Path

from hydra.adapters._gitcli import Git
from hydra.adapters._gitworktree import parse_worktree_list
from ports import PortError

_FF_CONFIG = (
    "core.hooksPath=/dev/null",  # none of the operator's hooks run for Hydra's merge
    "merge.verifySignatures=false",
    "merge.autoStash=false",
)


async def merge_commit(git: Git, repo: Path, *, base_commit: str, head: str, message: str) -> str:
    """The merge commit of ``head`` onto ``base_commit``; ``conflict`` if git cannot merge."""
    tree = await git.run(
        ["merge-tree", "--write-tree", "--name-only", base_commit, head], cwd=repo, ok=(0, 1)
    )
    lines = tree.stdout.decode(errors="replace").split("\n")
    if tree.code != 0:
        files = [line for line in lines[1:] if line][:20]
        raise git.error("conflict", f"git cannot merge cleanly: conflicts in {', '.join(files)}")
    made = await git.run(
        ["commit-tree", lines[0].strip(), "-p", base_commit, "-p", head, "-F", "-"],
        cwd=repo,
        stdin=message.encode(),
    )
    return made.text()


async def advance(git: Git, repo: Path, *, base: str, old: str, new: str) -> Path | None:
    """Move branch ``base`` from ``old`` to ``new`` (a descendant) as the module says."""
    listed = await git.run(["worktree", "list", "--porcelain", "-z"], cwd=repo)
    holders = [
        entry.path
        for entry in parse_worktree_list(listed.fields())
        if entry.branch == base and not entry.prunable
    ]
    if not holders:
        move = ["update-ref", "-m", f"hydra: merge into {base}", f"refs/heads/{base}", new, old]
        done = await git.run(move, cwd=repo, ok=(0, 128))
        if done.code != 0:
            raise git.error("conflict", f"{base!r} moved while merging; try again ({done.stderr})")
        return None
    holder = holders[0]
    dirty = await git.run(
        ["status", "--porcelain", "--untracked-files=no", "--ignore-submodules"],
        cwd=holder,
    )
    if dirty.stdout:
        raise git.error(
            "conflict",
            f"{base!r} is checked out at {holder} with uncommitted changes; "
            "commit or stash them (or check out another branch) before Hydra merges into it",
        )
    try:
        await git.run(["merge", "--ff-only", "--quiet", new], cwd=holder, config=_FF_CONFIG)
    except PortError as exc:
        raise git.error("conflict", f"cannot fast-forward {holder} to the merge: {exc}") from None
    return holder
