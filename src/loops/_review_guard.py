"""The review advisor's self-modification guard: which paths are its own, and where.

:data:`SELF_PATHS` is the single source of truth for "the advisor's own files": the advisor, the
helpers it imports, and the code that loads, configures, runs, meters and records it. Those
paths only mean Hydra in a repository that *is* Hydra, so the guard applies them to **Hydra's
own repository** alone; everywhere else ``pyproject.toml`` or ``src/ports/**`` are ordinary
files, guarded only by the configured ``protected_paths``.

A managed repository is Hydra's own when the advisor's options name it (``self_repos``) or when
it is recognised: the base the change would be merged into holds every file of
:data:`HYDRA_MARKERS`. Recognition reads the base, never the change, so a change cannot hide
the repository from the guard by deleting or renaming the markers (doing so touches
:data:`SELF_PATHS` and is vetoed). A repository that cannot be looked at raises
:class:`ports.PortError`: the change is not reviewed this tick, never waved through.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from hydra.sdk import Logger
from loops._agent_support import safe_ref, scratch_worktree
from ports import RepoPorts

__all__ = ["HYDRA_MARKERS", "SELF_PATHS", "SelfRepos"]

SELF_PATHS: Final[frozenset[str]] = frozenset(
    {
        # the advisor and every helper module it imports (a test holds this list to the imports)
        "src/loops/review_advisor.py",
        "src/loops/_review_guard.py",
        "src/loops/_review_text.py",
        "src/loops/_verdict.py",
        "src/loops/_risk.py",
        "src/loops/_globs.py",
        "src/loops/_agent_support.py",
        "src/loops/_tally.py",
        "src/loops/__init__.py",
        # its tests
        "tests/loops/test_review_advisor*.py",
        "tests/loops/_support_agent.py",
        "tests/e2e/test_loop_review_advisor.py",
        # the SDK and the runtime that load, configure, schedule, switch and shadow it, and keep
        # the state that says which heads were reviewed already
        "src/hydra/sdk/**",
        "src/hydra/registry.py",
        "src/hydra/loop_config.py",
        "src/hydra/settings.py",
        "src/hydra/daemon.py",
        "src/hydra/runtime.py",
        "src/hydra/supervisor.py",
        "src/hydra/orchestrator.py",
        "src/hydra/switches.py",
        "src/hydra/repo_scopes.py",
        "src/hydra/loop_services.py",
        "src/hydra/shadow.py",
        # what the verdict is made of: the agent adapters (command lines, transcript parsing,
        # metering), the diffs and changed files, the posted reviews and merges, and the
        # runner that runs the agent and classifies how it ended
        "src/hydra/adapters/**",
        "src/hydra/runner/**",
        # the ports it sees the world through (their mutation marks make shadow mode)
        "src/ports/**",
        # its entry point and the import contracts that fence it
        "pyproject.toml",
    }
)
"""The advisor's own files, repository-relative: in Hydra's own repository a change touching
one is vetoed, whatever anything else says."""

HYDRA_MARKERS: Final[tuple[str, ...]] = ("src/loops/review_advisor.py", "src/hydra/sdk/__init__.py")
"""Files whose presence at a change's base marks the repository as Hydra's own."""

PROBE_PREFIX: Final = "review-probe-"


class SelfRepos:
    """Which managed repositories are Hydra's own, looked up once per (repository, base) and
    tick."""

    def __init__(self, named: Collection[str], *, run_id: str, log: Logger) -> None:
        self._named = frozenset(named)
        self._run = run_id[-8:]
        self._log = log
        self._known: dict[tuple[str, str], bool] = {}

    async def is_hydra(self, name: str, repo: RepoPorts, base: str) -> bool:
        """Whether ``name`` is Hydra's own repository (named in the options, or recognised by
        :data:`HYDRA_MARKERS` at ``base``). Raises :class:`ports.PortError`."""
        if name in self._named:
            return True
        key = (name, base)
        if key not in self._known:
            self._known[key] = await self._recognise(repo, base, len(self._known))
        return self._known[key]

    async def _recognise(self, repo: RepoPorts, base: str, serial: int) -> bool:
        ref = f"{self._run}-{serial}-{safe_ref(base)}"
        async with scratch_worktree(
            repo.workspace,
            f"{PROBE_PREFIX}{ref}",
            branch=f"hydra/review/probe-{ref}",
            base=base,
            log=self._log,
            delete_branch=True,
        ) as probe:
            tracked = {f.path for f in await repo.workspace.tracked_files(probe.name)}
        return all(marker in tracked for marker in HYDRA_MARKERS)
