"""The runtime side of per-repository switches: cancel the work in flight on a repository."""

from __future__ import annotations

import anyio

from hydra.switches import SwitchBoard


class RepoScopes:
    """Tracks the cancel scopes of blocks working on each repository (``ctx.repo(name)``)."""

    def __init__(self, board: SwitchBoard) -> None:
        self._board = board
        self._scopes: dict[str, set[anyio.CancelScope]] = {}

    def enabled(self, repo: str) -> bool:
        return self._board.repo_switch(repo).enabled

    def register(self, repo: str, scope: anyio.CancelScope) -> None:
        self._scopes.setdefault(repo, set()).add(scope)

    def unregister(self, repo: str, scope: anyio.CancelScope) -> None:
        scopes = self._scopes.get(repo)
        if scopes is not None:
            scopes.discard(scope)
            if not scopes:
                del self._scopes[repo]

    def cancel(self, repo: str) -> int:
        """Cancel every block working on ``repo``; returns how many there were."""
        scopes = list(self._scopes.get(repo, ()))
        for scope in scopes:
            scope.cancel()
        return len(scopes)

    def busy(self, repo: str) -> int:
        return len(self._scopes.get(repo, ()))
