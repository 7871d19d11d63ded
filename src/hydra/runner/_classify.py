"""Classification of a finished child from its exit code and output.

Each adapter gives the runner a `Classifier` describing its program: which exit codes
mean what and which output text means an authentication failure, a rate limit or an
exhausted credit. The runner itself decides the cases it caused or observed directly
(timeout, stop, death by signal, spawn failure); the classifier decides the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from hydra.runner._capture import Captured
from hydra.runner._result import RunStatus

__all__ = ["DEFAULT_CLASSIFIER", "Classifier", "Pattern", "Verdict"]

Pattern = str | re.Pattern[str]
"""A plain string matches as a case-insensitive substring; a compiled regex as is."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classification. ``transient`` marks an auth failure worth retrying."""

    status: RunStatus
    reason: str = ""
    transient: bool = False


def _compile(pattern: Pattern) -> tuple[re.Pattern[str], str]:
    if isinstance(pattern, re.Pattern):
        return pattern, pattern.pattern
    return re.compile(re.escape(pattern), re.IGNORECASE), pattern


@dataclass(frozen=True)
class Classifier:
    """Turns an exit code and the captured output into a `Verdict`.

    Order of precedence: an explicit ``exit_codes`` entry; then the output patterns,
    first match wins in the order credit exhausted, terminal auth, transient auth, rate
    limited (so "please log in" beats a "401" in the same output: retrying cannot log
    in); then ``success_codes`` mean ``ok`` and anything else ``failed``. Output is only
    scanned for a non-success exit unless ``scan_on_success`` is set (for CLIs that
    exit 0 on an API error). Only the captured head and tail are scanned.
    """

    credit_exhausted: tuple[Pattern, ...] = ()
    auth_terminal: tuple[Pattern, ...] = ()
    auth_transient: tuple[Pattern, ...] = ()
    rate_limited: tuple[Pattern, ...] = ()
    exit_codes: Mapping[int, Verdict] = field(default_factory=dict)
    success_codes: frozenset[int] = frozenset({0})
    scan_on_success: bool = False
    _rules: tuple[tuple[re.Pattern[str], Verdict], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        groups: tuple[tuple[tuple[Pattern, ...], RunStatus, str, bool], ...] = (
            (self.credit_exhausted, "credit_exhausted", "credit exhausted", False),
            (self.auth_terminal, "auth_failed", "auth failure", False),
            (self.auth_transient, "auth_failed", "transient auth failure", True),
            (self.rate_limited, "rate_limited", "rate limited", False),
        )
        rules = tuple(
            (regex, Verdict(status, f"{label}: {text!r}", transient))
            for patterns, status, label, transient in groups
            for regex, text in map(_compile, patterns)
        )
        object.__setattr__(self, "_rules", rules)

    def classify(self, exit_code: int, stdout: Captured, stderr: Captured) -> Verdict:
        """The verdict for a child that exited with ``exit_code`` (not killed by a signal)."""
        explicit = self.exit_codes.get(exit_code)
        if explicit is not None:
            return explicit
        success = exit_code in self.success_codes
        if not success or self.scan_on_success:
            text = stderr.text() + "\n" + stdout.text()
            for regex, verdict in self._rules:
                if regex.search(text):
                    return verdict
        return Verdict("ok") if success else Verdict("failed", f"exit {exit_code}")

    def extended(
        self,
        *,
        credit_exhausted: Iterable[Pattern] = (),
        auth_terminal: Iterable[Pattern] = (),
        auth_transient: Iterable[Pattern] = (),
        rate_limited: Iterable[Pattern] = (),
        exit_codes: Mapping[int, Verdict] | None = None,
    ) -> Classifier:
        """A copy with more patterns (checked after this one's) and exit-code entries."""
        return Classifier(
            credit_exhausted=(*self.credit_exhausted, *credit_exhausted),
            auth_terminal=(*self.auth_terminal, *auth_terminal),
            auth_transient=(*self.auth_transient, *auth_transient),
            rate_limited=(*self.rate_limited, *rate_limited),
            exit_codes={**self.exit_codes, **(exit_codes or {})},
            success_codes=self.success_codes,
            scan_on_success=self.scan_on_success,
        )


DEFAULT_CLASSIFIER: Final = Classifier(
    credit_exhausted=(
        "credit balance is too low",
        "insufficient credit",
        "insufficient_quota",
        "exceeded your current quota",
        "payment required",
    ),
    auth_terminal=(
        "invalid api key",
        "invalid x-api-key",
        "not logged in",
        "please log in",
        "please run /login",
        "login required",
    ),
    auth_transient=(
        "http 401",
        "401 unauthorized",
        "token expired",
        "token has expired",
        "expired token",
        "authentication temporarily unavailable",
    ),
    rate_limited=(
        re.compile(r"rate[ _-]?limit", re.IGNORECASE),
        "too many requests",
        "http 429",
        "overloaded",
    ),
)
"""Generic patterns every CLI adapter starts from; extend it with `Classifier.extended`."""
