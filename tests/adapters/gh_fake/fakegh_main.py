"""The fake gh's entry point: log the call, apply the failure mode, run the command.

Two locked transactions per call: the first appends to ``calls`` and consumes the failure
mode (so a failed call is still logged and counted), the second runs the command on the
state and is written back only if the command succeeded, as GitHub applies a mutation whole.

Failure modes (``mode.kind``), with the texts gh 2.23 prints:

* ``not_logged_in``: exit 4, ``To get started with GitHub CLI, please run:  gh auth login``
  (read off the real binary with an empty config dir and no token);
* ``http_401``: exit 1, ``HTTP 401: Bad credentials (https://api.github.com/graphql)`` and
  ``Try authenticating with:  gh auth login`` (``gh api``: ``gh: Bad credentials (HTTP 401)``
  with GitHub's JSON body on stdout);
* ``rate_limit``: exit 1, ``HTTP 403: API rate limit exceeded for user ID 1000.`` (``gh
  api``: ``gh: API rate limit exceeded for user ID 1000. (HTTP 403)``);
* ``network``: exit 1, ``error connecting to api.github.com`` and ``check your internet
  connection or https://githubstatus.com``;
* ``hang``: sleeps a minute (for timeouts).

``mode.times`` (if set) counts down per failed call, then the mode turns back to ``ok``: a
transient blip.
"""

from __future__ import annotations

import os
import sys
import time

import fakegh_issues
import fakegh_pulls
from fakegh_state import STATE_ENV, State, locked
from fakegh_util import Args, GhExit, fail, unsupported

COMMANDS = {**fakegh_issues.COMMANDS, **fakegh_pulls.COMMANDS}
NOT_LOGGED_IN = (
    "To get started with GitHub CLI, please run:  gh auth login\n"
    "Alternatively, populate the GH_TOKEN environment variable with a GitHub API"
    " authentication token.\n"
)


_CONNECT = (
    "error connecting to api.github.com\n"
    "check your internet connection or https://githubstatus.com\n"
)
_401 = "HTTP 401: Bad credentials (https://api.github.com/graphql)\n"
_LOGIN = "Try authenticating with:  gh auth login\n"
_RATE = "API rate limit exceeded for user ID 1000."
_FAILURES: dict[tuple[str, bool], tuple[int, str, str]] = {
    # (mode, is `gh api`): (exit code, stderr, stdout)
    ("not_logged_in", False): (4, NOT_LOGGED_IN, ""),
    ("network", False): (1, _CONNECT, ""),
    ("http_401", False): (1, _401 + _LOGIN, ""),
    ("http_401", True): (
        1,
        "gh: Bad credentials (HTTP 401)\n",
        '{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}',
    ),
    ("rate_limit", False): (1, f"HTTP 403: {_RATE} (https://api.github.com/graphql)\n", ""),
    ("rate_limit", True): (1, f"gh: {_RATE} (HTTP 403)\n", f'{{"message":"{_RATE}"}}'),
}


def _mode_failure(kind: str, is_api: bool) -> GhExit | None:
    found = _FAILURES.get((kind, is_api)) or _FAILURES.get((kind, False))
    return None if found is None else GhExit(*found)


def _log_and_mode(state: State, argv: list[str], stdin: str | None) -> str:
    state["calls"].append({"argv": argv, "stdin": stdin, "gh_token": "GH_TOKEN" in os.environ})
    mode = state["mode"]
    kind = str(mode["kind"])
    if kind != "ok" and mode["times"] is not None:
        mode["times"] -= 1
        if mode["times"] <= 0:
            state["mode"] = {"kind": "ok", "times": None}
    return kind


def _run(state: State, args: Args, stdin: str | None) -> str:
    command = COMMANDS.get(tuple(args.positional[:2])) if args.positional[:1] != ["api"] else None
    if args.positional[:1] == ["api"]:
        del args.positional[0]
        return fakegh_pulls.api(state, args, stdin)
    if command is None:
        raise unsupported(f"command {' '.join(args.positional[:2])!r}")
    repo = args.one("repo")
    if repo != state["repo"]:
        raise fail(
            f"GraphQL: Could not resolve to a Repository with the name '{repo}'. (repository)"
        )
    del args.positional[:2]
    return command(state, args, stdin)


def main(argv: list[str]) -> int:
    path = os.environ[STATE_ENV]
    stdin = sys.stdin.read() if any(a in ("--body-file=-", "-") for a in argv) else None
    with locked(path) as state:
        kind = _log_and_mode(state, argv, stdin)
    if kind == "hang":
        time.sleep(60)
    outcome = _mode_failure(kind, argv[:1] == ["api"])
    if outcome is None:
        try:
            with locked(path) as state:
                sys.stdout.write(_run(state, Args(argv), stdin))
            return 0
        except GhExit as exc:
            outcome = exc
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    return outcome.code
