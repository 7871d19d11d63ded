"""How ``gh`` fails: its runner `Classifier`, and its error texts mapped to `PortError` kinds.

The texts are gh's own (2.23, the Debian build CI installs): ``NOT_LOGGED_IN`` was read off
the real binary (``tests/adapters/test_gh_real.py`` keeps checking it); the others are gh's
format strings (``HTTP %d: %s (%s)``, ``%s (HTTP %d)``, ``GraphQL: %s``) around GitHub's
messages. Exit code 4 is gh's documented "authentication required" (``gh help exit-codes``).

Authentication:

* terminal (no retry): gh has no credentials at all (exit 4, ``NOT_LOGGED_IN``);
* transient (retried 5/10/20 s by the runner, then `AuthFailed`): GitHub refused the
  credentials gh sent (``HTTP 401: Bad credentials``). A rotated token (a GitHub App
  installation token, a credential helper) can be stale for a moment; a revoked one still
  ends in `AuthFailed` once the retries are spent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from hydra.runner import Classifier, RunResult, Verdict
from ports import PortError, PortErrorKind

NOT_LOGGED_IN: Final = "To get started with GitHub CLI, please run:  gh auth login"
"""First line gh 2.23 prints (exit code 4) when it holds no credentials."""

AUTH_EXIT_CODE: Final = 4

GH_CLASSIFIER: Final = Classifier(
    auth_terminal=(NOT_LOGGED_IN, "You are not logged into any GitHub hosts"),
    auth_transient=("HTTP 401", "Bad credentials", "Requires authentication"),
    rate_limited=(
        re.compile(r"rate limit", re.IGNORECASE),  # "API rate limit exceeded", "secondary …"
        "HTTP 429",
        "was submitted too quickly",
    ),
    exit_codes={AUTH_EXIT_CODE: Verdict("auth_failed", "gh exit code 4: not logged in")},
)
"""The runner classifier of every gh call (GitHub has no credit to run out of)."""

Rule = tuple[str, PortErrorKind]
"""``(case-insensitive substring of gh's output, kind)``; the first matching rule wins."""

BASE_RULES: Final[tuple[Rule, ...]] = (
    ("Could not resolve to a Repository", "failed"),  # a configuration problem, not the item
    ("Could not resolve to", "not_found"),  # GraphQL: ... an issue / a PullRequest with the number
    ("HTTP 404", "not_found"),  # gh api: "gh: Not Found (HTTP 404)"
    ("no pull requests found for branch", "not_found"),
    ("Validation Failed", "invalid"),
    ("HTTP 422", "invalid"),
    ("can't be blank", "invalid"),
    ("is too long", "invalid"),
)

CREATE_PR_RULES: Final[tuple[Rule, ...]] = (
    # pull request create failed: GraphQL: Head sha can't be blank, Base sha can't be blank,
    # No commits between main and x, Head ref must be a branch (createPullRequest)
    ("Head sha can't be blank", "not_found"),
    ("Head ref must be a branch", "not_found"),
    ("Base ref must be a branch", "not_found"),
    ("No commits between", "invalid"),
)

MERGE_RULES: Final[tuple[Rule, ...]] = (
    ("is not mergeable", "conflict"),  # "X Pull request #3 is not mergeable: the base branch …"
    ("Head branch was modified", "conflict"),  # --match-head-commit did not match
    ("Base branch was modified", "conflict"),
    ("merge conflict", "conflict"),
    ("is not in the correct state", "conflict"),
    ("review is required", "conflict"),
    ("status check", "conflict"),
)

_TAIL_CHARS: Final = 600


def output_tail(result: RunResult) -> str:
    """The end of gh's stderr, where gh writes its errors, on one line.

    Stdout is left out on purpose: it may hold repository content (a diff, issue bodies).
    """
    lines = result.stderr.text().splitlines()
    text = " | ".join(line.strip() for line in lines if line.strip())
    return text[-_TAIL_CHARS:]


def kind_of(text: str, rules: Sequence[Rule] = ()) -> PortErrorKind:
    """The kind of failure gh's ``text`` describes; ``failed`` when no rule matches."""
    lowered = text.lower()
    for needle, kind in (*rules, *BASE_RULES):
        if needle.lower() in lowered:
            return kind
    return "failed"


def port_error(result: RunResult, *, port: str, what: str, rules: Sequence[Rule] = ()) -> PortError:
    """The `PortError` for a gh call that did not succeed (never for auth: the runner raised)."""
    tail = output_tail(result)
    if result.status == "timeout":
        return PortError("timeout", f"gh {what}: {result.reason}", port=port)
    if result.status == "rate_limited":
        return PortError("rate_limited", f"gh {what}: {tail}", port=port)
    if result.exit_code is None and result.reason in ("not_found", "permission_denied"):
        return PortError("unconfigured", f"cannot run {result.argv[0]}: {result.reason}", port=port)
    if result.exit_code is None:
        return PortError("failed", f"gh {what}: {result.status}: {result.reason}", port=port)
    kind = kind_of(result.stderr.text(), rules)
    return PortError(kind, f"gh {what}: {tail or result.reason}", port=port)
