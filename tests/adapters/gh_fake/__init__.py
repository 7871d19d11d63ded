"""A fake ``gh`` executable for the GitHub adapters' tests, and ``FakeGh`` to drive it.

``gh`` (next to this file, ``#!/usr/bin/env python3``) keeps its state in a JSON file named
by ``HYDRA_FAKE_GH_STATE`` and reproduces the documented JSON shapes, messages and exit
codes of gh 2.23 for the commands the adapters use (``fakegh_main.py`` lists the failure
modes, ``fakegh_issues.py`` / ``fakegh_pulls.py`` the commands). ``FakeGh`` makes a private
``bin`` directory holding a ``gh`` link to it (and, for its shebang, a ``python3`` that
runs the tests' interpreter without site packages), so an adapter given ``FakeGh.env()``
(a ``PATH`` with that directory first, and the state file) runs the fake like the real gh.

Branches are "pushed" by writing them into the state (``push_branch``, and ``push_commit`` for
one more commit); pull requests read them from there, which is how the ``changes`` contract
suite's ``push_branch`` and ``push_commit`` reach it.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.adapters.gh_fake.fakegh_state import (
    STATE_ENV,
    State,
    new_state,
    read,
    timestamp,
    tree_sha,
    update,
)

SCRIPT = Path(__file__).with_name("gh")


class FakeGh:
    """One fake GitHub repository behind a fake ``gh`` on a private ``PATH`` entry."""

    def __init__(
        self,
        root: Path,
        *,
        repo: str = "acme/app",
        viewer: str = "hydra-bot",
        base: str = "main",
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        self.repo, self.viewer, self.base = repo, viewer, base
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir(parents=True)
        if not os.access(SCRIPT, os.X_OK):  # a checkout that lost the executable bit
            SCRIPT.chmod(SCRIPT.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        (self.bin_dir / "gh").symlink_to(SCRIPT)
        # ``#!/usr/bin/env python3`` then finds the interpreter running the tests, without site
        # packages (the fake needs the standard library only, and starts once per gh call).
        python = self.bin_dir / "python3"
        python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S -E "$@"\n')
        python.chmod(0o755)
        self.state_path = root / "gh-state.json"
        text = {path: data.decode() for path, data in (files or {}).items()}
        state = new_state(repo, viewer, base, text)
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    def env(self) -> dict[str, str]:
        """What to pass as the adapter's ``env``: the fake first on ``PATH``, its state file."""
        return {
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            STATE_ENV: str(self.state_path),
        }

    def state(self) -> State:
        return read(self.state_path)

    def set_mode(self, kind: str, *, times: int | None = None) -> None:
        """Make the next ``times`` calls (all, if ``None``) fail as ``kind`` (see fakegh_main)."""

        def change(state: State) -> None:
            state["mode"] = {"kind": kind, "times": times}

        update(self.state_path, change)

    def push_branch(self, branch: str, files: Mapping[str, bytes | None]) -> str:
        """``branch`` = the base branch with ``files`` applied (``None`` deletes); its head."""
        result: dict[str, str] = {}

        def change(state: State) -> None:
            tree = dict(state["branches"][self.base]["files"])
            for path, data in files.items():
                if data is None:
                    tree.pop(path, None)
                else:
                    tree[path] = data.decode()
            result["sha"] = tree_sha(tree, f"{branch}@{state['now']}")
            state["branches"][branch] = {"sha": result["sha"], "files": tree}
            timestamp(state)

        update(self.state_path, change)
        return result["sha"]

    def push_commit(self, branch: str, files: Mapping[str, bytes | None]) -> str:
        """One more commit on the pushed ``branch``: ``files`` applied to what it holds; its
        new head."""
        result: dict[str, str] = {}

        def change(state: State) -> None:
            pushed = state["branches"][branch]
            tree = dict(pushed["files"])
            for path, data in files.items():
                if data is None:
                    tree.pop(path, None)
                else:
                    tree[path] = data.decode()
            result["sha"] = tree_sha(tree, f"{pushed['sha']}@{state['now']}")
            state["branches"][branch] = {"sha": result["sha"], "files": tree}
            timestamp(state)

        update(self.state_path, change)
        return result["sha"]

    def add_review(self, number: str, *, author: str, state: str, body: str = "") -> None:
        """A review by someone else (``state``: ``APPROVED``, ``CHANGES_REQUESTED``, …)."""

        def change(st: State) -> None:
            st["pulls"][number]["reviews"].append(
                {
                    "author": {"login": author},
                    "body": body,
                    "state": state,
                    "submittedAt": timestamp(st),
                }
            )

        update(self.state_path, change)

    def block_merge(self, number: str, reason: str) -> None:
        def change(state: State) -> None:
            state["merge_blocked"][number] = reason

        update(self.state_path, change)

    def edit(self, change: Any) -> None:
        """Change the state directly (``change(state)``), as another GitHub user would."""
        update(self.state_path, change)

    def calls(self) -> list[dict[str, Any]]:
        """Every invocation so far: ``{"argv", "stdin", "gh_token"}``."""
        return list(self.state()["calls"])
