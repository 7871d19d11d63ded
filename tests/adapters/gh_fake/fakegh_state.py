"""The fake gh's state: one JSON file, read and written under an exclusive lock.

Imported by the ``gh`` script (as ``fakegh_state``) and by tests (through ``FakeGh``), so it
uses the standard library only. Schema (all keys always present)::

    repo, viewer          "owner/name" the fake serves; the login gh is "logged in" as
    now                   logical clock, seconds since 2025-01-01T00:00:00Z (+1 per write)
    next_number           issues and pull requests share one number sequence, as on GitHub
    labels                {lowercased name: {"name", "color", "description"}}
    issues                {"N": {"number", "title", "body", "labels": [names], "state",
                           "author", "createdAt", "updatedAt", "comments": [...]}}
    pulls                 {"N": {"number", "title", "body", "head", "base", "state", "author",
                           "createdAt", "updatedAt", "baseFiles", "reviews": [...]}}
    branches              {name: {"sha", "files": {path: text}}} (tests "push" here)
    mode                  {"kind": "ok"|"not_logged_in"|"http_401"|"rate_limit"|"network"
                           |"hang", "times": null|n}: how the next n (or all) calls fail
    merge_blocked         {"N": reason}: ``gh pr merge N`` refuses with this reason
    calls                 [{"argv", "stdin", "gh_token"}]: every invocation, for assertions
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

STATE_ENV = "HYDRA_FAKE_GH_STATE"
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

State = dict[str, Any]


def new_state(repo: str, viewer: str, base: str, files: Mapping[str, str]) -> State:
    return {
        "repo": repo,
        "viewer": viewer,
        "now": 0,
        "next_number": 1,
        "labels": {},
        "issues": {},
        "pulls": {},
        "branches": {base: {"sha": tree_sha(files, base), "files": dict(files)}},
        "mode": {"kind": "ok", "times": None},
        "merge_blocked": {},
        "calls": [],
    }


def tree_sha(files: Mapping[str, str], salt: str) -> str:
    """A commit-like id (40 hex digits) for a tree; ``salt`` keeps equal trees apart."""
    import hashlib  # only pushes and merges need it: keep the fake's start-up quick

    digest = hashlib.sha1(salt.encode(), usedforsecurity=False)
    for path in sorted(files):
        digest.update(b"\0" + path.encode() + b"\0" + files[path].encode())
    return digest.hexdigest()


def timestamp(state: State) -> str:
    """The logical clock as gh prints times (``2025-01-01T00:00:07Z``), advanced by one."""
    state["now"] += 1
    return (EPOCH + timedelta(seconds=state["now"])).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[State]:
    """The state, exclusively locked; written back when the block exits without error.

    Plain ``os`` paths, not ``pathlib`` (9 ms to import): the fake starts once per gh call.
    """
    name = os.fspath(path)
    with open(name + ".lock", "a") as lock:  # noqa: PTH123 - see above
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(name, encoding="utf-8") as f:  # noqa: PTH123 - see above
            state: State = json.load(f)
        yield state
        with open(name + ".tmp", "w", encoding="utf-8") as f:  # noqa: PTH123 - see above
            json.dump(state, f)
        os.replace(name + ".tmp", name)  # noqa: PTH105 - see above


def update(path: str | os.PathLike[str], change: Callable[[State], object]) -> None:
    with locked(path) as state:
        change(state)


def read(path: str | os.PathLike[str]) -> State:
    name = os.fspath(path)
    with open(name + ".lock", "a") as lock:  # noqa: PTH123 - see locked()
        fcntl.flock(lock, fcntl.LOCK_SH)
        with open(name, encoding="utf-8") as f:  # noqa: PTH123 - see locked()
            state: State = json.load(f)
        return state
