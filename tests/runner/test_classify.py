"""Classification tables: the default classifier, and adapters extending it."""

from __future__ import annotations

import re

import pytest

from hydra.runner import DEFAULT_CLASSIFIER, Captured, Classifier, Verdict


def classify(
    classifier: Classifier, code: int, stderr: str = "", stdout: str = ""
) -> tuple[str, bool]:
    verdict = classifier.classify(code, Captured(stdout.encode()), Captured(stderr.encode()))
    return verdict.status, verdict.transient


@pytest.mark.parametrize(
    ("code", "stderr", "stdout", "expected"),
    [
        (0, "", "all good", ("ok", False)),
        (0, "rate limit exceeded", "", ("ok", False)),  # success output is not scanned
        (1, "", "", ("failed", False)),
        (2, "fatal: not a git repository", "", ("failed", False)),
        (1, "Credit balance is too low", "", ("credit_exhausted", False)),
        (1, "", '{"error": "insufficient_quota"}', ("credit_exhausted", False)),
        (1, "You exceeded your current quota", "", ("credit_exhausted", False)),
        (1, "Invalid API key · Please run /login", "", ("auth_failed", False)),
        (1, "error: not logged in", "", ("auth_failed", False)),
        (1, "HTTP 401: token expired", "", ("auth_failed", True)),
        (1, "401 Unauthorized", "", ("auth_failed", True)),
        (1, "authentication temporarily unavailable", "", ("auth_failed", True)),
        (1, "API rate limit exceeded for user", "", ("rate_limited", False)),
        (1, "rate_limit_error", "", ("rate_limited", False)),
        (1, "HTTP 429 Too Many Requests", "", ("rate_limited", False)),
        (1, "", "Overloaded", ("rate_limited", False)),
        # precedence: credit > terminal auth > transient auth > rate limit
        (1, "HTTP 401; please log in", "", ("auth_failed", False)),
        (1, "rate limit; credit balance is too low", "", ("credit_exhausted", False)),
        (1, "token expired after rate limit", "", ("auth_failed", True)),
    ],
)
def test_default_classifier(
    code: int, stderr: str, stdout: str, expected: tuple[str, bool]
) -> None:
    assert classify(DEFAULT_CLASSIFIER, code, stderr, stdout) == expected


def test_reason_names_the_matched_pattern() -> None:
    verdict = DEFAULT_CLASSIFIER.classify(1, Captured(), Captured(b"Token expired!"))
    assert verdict == Verdict("auth_failed", "transient auth failure: 'token expired'", True)
    assert DEFAULT_CLASSIFIER.classify(3, Captured(), Captured()).reason == "exit 3"


def test_only_kept_output_is_scanned() -> None:
    middle_dropped = Captured(b"head", b"tail", total_bytes=100, dropped_bytes=92)
    assert DEFAULT_CLASSIFIER.classify(1, middle_dropped, Captured()).status == "failed"


# What adapters do: their own exit codes and texts on top of the defaults.
GH = DEFAULT_CLASSIFIER.extended(
    auth_terminal=["gh auth login"],
    auth_transient=[re.compile(r"HTTP 401", re.IGNORECASE)],
    rate_limited=["API rate limit exceeded", "secondary rate limit"],
    exit_codes={4: Verdict("auth_failed", "gh: authentication required")},
)
CLAUDE = Classifier(
    credit_exhausted=("Credit balance is too low",),
    auth_terminal=("Invalid API key · Please run /login", "OAuth token has expired"),
    auth_transient=("authentication_error",),
    rate_limited=("rate_limit_error", "overloaded_error"),
    scan_on_success=True,
)


@pytest.mark.parametrize(
    ("classifier", "code", "stderr", "stdout", "expected"),
    [
        (GH, 4, "", "", ("auth_failed", False)),
        (
            GH,
            1,
            "To get started with GitHub CLI, please run:  gh auth login",
            "",
            ("auth_failed", False),
        ),
        (
            GH,
            1,
            "HTTP 401: Bad credentials (https://api.github.com/graphql)",
            "",
            ("auth_failed", True),
        ),
        (GH, 1, "GraphQL: API rate limit exceeded for user ID 1", "", ("rate_limited", False)),
        (GH, 1, "HTTP 404: Not Found", "", ("failed", False)),
        (GH, 0, "", "[]", ("ok", False)),
        (
            CLAUDE,
            0,
            "",
            '{"is_error":true,"result":"Credit balance is too low"}',
            ("credit_exhausted", False),
        ),
        (CLAUDE, 1, "Invalid API key · Please run /login", "", ("auth_failed", False)),
        (CLAUDE, 1, '{"type":"authentication_error"}', "", ("auth_failed", True)),
        (CLAUDE, 0, "", '{"type":"overloaded_error"}', ("rate_limited", False)),
        (CLAUDE, 0, "", '{"result":"done"}', ("ok", False)),
    ],
)
def test_adapter_classifiers(
    classifier: Classifier, code: int, stderr: str, stdout: str, expected: tuple[str, bool]
) -> None:
    assert classify(classifier, code, stderr, stdout) == expected


def test_extended_keeps_the_original_unchanged() -> None:
    assert "gh auth login" not in DEFAULT_CLASSIFIER.auth_terminal
    assert GH.auth_terminal[-1] == "gh auth login"
    assert GH.credit_exhausted == DEFAULT_CLASSIFIER.credit_exhausted


def test_success_codes_are_configurable() -> None:
    grep_like = Classifier(success_codes=frozenset({0, 1}))
    assert classify(grep_like, 1) == ("ok", False)
    assert classify(grep_like, 2) == ("failed", False)
