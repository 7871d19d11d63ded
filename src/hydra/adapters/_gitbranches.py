"""Branch facts the change-request adapter reads from git: heads and ancestry."""

from __future__ import annotations

from pathlib import Path

from hydra.adapters._gitcli import Git

Heads = dict[str, str]
"""Short branch name -> the commit it points at."""


class Branches:
    """Branches of the repository at ``repo``."""

    def __init__(self, git: Git, repo: Path) -> None:
        self._git = git
        self._repo = repo

    async def heads(self) -> Heads:
        """Every local branch and its head commit (one call)."""
        out = await self._git.run(
            ["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"], cwd=self._repo
        )
        pairs = (line.partition(" ")[::2] for line in out.lines())
        return {ref.removeprefix("refs/heads/"): oid for oid, ref in pairs}

    async def not_merged_into(self, commit: str) -> set[str]:
        """Branches with at least one commit that ``commit`` does not contain (one call)."""
        args = ["for-each-ref", "--format=%(refname)", f"--no-merged={commit}", "refs/heads/"]
        out = await self._git.run(args, cwd=self._repo)
        return {ref.removeprefix("refs/heads/") for ref in out.lines()}

    async def is_ancestor(self, commit: str, of: str) -> bool:
        """Whether ``of`` contains ``commit`` (a branch at ``commit`` is merged into ``of``)."""
        args = ["merge-base", "--is-ancestor", commit, of]
        return (await self._git.run(args, cwd=self._repo, ok=(0, 1))).code == 0
