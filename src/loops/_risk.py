"""Risk of a change from the paths it touches and its size: ``trivial < low < medium < high <
critical``.

Two independent readings, and the change's risk is the higher one:

* **paths** — each changed path takes the risk of the first rule whose glob it matches
  (:mod:`loops._globs` syntax; rules are tried in order), or the default risk when none
  matches. The paths' risk is the highest of them.
* **size** — lines changed (additions + deletions) and files changed are each compared with
  ascending thresholds (``{"trivial": 10, "low": 100, …}`` reads "up to 10 lines is trivial");
  past the last threshold a change is ``critical``. The size risk is the higher of the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal, TypeVar

from loops._globs import first_match
from ports import ChangedFile

__all__ = [
    "DEFAULT_FILES_UP_TO",
    "DEFAULT_LINES_UP_TO",
    "DEFAULT_PATH_RISK",
    "RISKS",
    "Risk",
    "RiskAssessment",
    "check_thresholds",
    "classify",
    "is_below",
]

_T = TypeVar("_T", bound=Mapping[str, int])

Risk = Literal["trivial", "low", "medium", "high", "critical"]
RISKS: Final[tuple[Risk, ...]] = ("trivial", "low", "medium", "high", "critical")

DEFAULT_PATH_RISK: Final[Mapping[str, Risk]] = {
    # secrets and credentials first: nothing below may lower them
    ".env": "critical",
    ".env.*": "critical",
    "*.pem": "critical",
    "*.key": "critical",
    # how the code is built, shipped and checked
    ".github/**": "high",
    ".gitlab-ci.yml": "high",
    "Dockerfile": "high",
    "**/migrations/**": "high",
    # dependencies
    "pyproject.toml": "medium",
    "requirements*.txt": "medium",
    "*.lock": "medium",
    "package.json": "medium",
    "package-lock.json": "medium",
    "go.mod": "medium",
    "Cargo.toml": "medium",
    # tests and documentation
    "tests/**": "low",
    "docs/**": "trivial",
    "*.md": "trivial",
    "*.rst": "trivial",
}
DEFAULT_LINES_UP_TO: Final[Mapping[Risk, int]] = {
    "trivial": 10,
    "low": 100,
    "medium": 500,
    "high": 2000,
}
DEFAULT_FILES_UP_TO: Final[Mapping[Risk, int]] = {
    "trivial": 2,
    "low": 10,
    "medium": 30,
    "high": 100,
}


def is_below(risk: Risk, threshold: Risk) -> bool:
    """Whether ``risk`` ranks strictly below ``threshold``."""
    return RISKS.index(risk) < RISKS.index(threshold)


def _higher(a: Risk, b: Risk) -> Risk:
    return a if RISKS.index(a) >= RISKS.index(b) else b


def check_thresholds(thresholds: _T) -> _T:
    """``thresholds`` if it never decreases along the risk order, else ``ValueError``."""
    if any(limit < 0 for limit in thresholds.values()):
        raise ValueError("thresholds must not be negative")
    if "critical" in thresholds:
        raise ValueError("'critical' takes no threshold: it is everything past 'high'")
    ordered = [(r, thresholds[r]) for r in RISKS if r in thresholds]
    for (low, low_max), (high, high_max) in pairwise(ordered):
        if high_max < low_max:
            raise ValueError(f"threshold of {high!r} ({high_max}) is below {low!r} ({low_max})")
    return thresholds


@dataclass(frozen=True)
class RiskAssessment:
    risk: Risk
    path_risk: Risk
    size_risk: Risk
    lines: int
    files: int
    drivers: tuple[str, ...]
    """The paths that set the path risk (``path: risk via pattern``), at most five."""

    def explain(self) -> str:
        files = f"{self.files} file" + ("" if self.files == 1 else "s")
        lines = f"{self.lines} line" + ("" if self.lines == 1 else "s")
        why = f"paths {self.path_risk}, size {self.size_risk} ({files}, {lines})"
        return f"{self.risk}: {why}" + (f"; {', '.join(self.drivers)}" if self.drivers else "")


def classify(
    files: Sequence[ChangedFile],
    *,
    path_risk: Mapping[str, Risk],
    default_path_risk: Risk,
    lines_up_to: Mapping[Risk, int],
    files_up_to: Mapping[Risk, int],
) -> RiskAssessment:
    """The risk of a change made of ``files``."""
    lines = sum(f.additions + f.deletions for f in files)
    paths_level: Risk = "trivial" if files else default_path_risk
    per_path: list[tuple[str, Risk, str | None]] = []
    for changed in files:
        rule = first_match(changed.path, path_risk)
        level = path_risk[rule] if rule is not None else default_path_risk
        per_path.append((changed.path, level, rule))
        paths_level = _higher(paths_level, level)
    drivers = tuple(
        f"{path}: {level}" + (f" via {rule!r}" if rule else " (default)")
        for path, level, rule in per_path
        if level == paths_level
    )[:5]
    size_level = _higher(_by_size(lines, lines_up_to), _by_size(len(files), files_up_to))
    return RiskAssessment(
        risk=_higher(paths_level, size_level),
        path_risk=paths_level,
        size_risk=size_level,
        lines=lines,
        files=len(files),
        drivers=drivers,
    )


def _by_size(amount: int, thresholds: Mapping[Risk, int]) -> Risk:
    for level in RISKS:
        limit = thresholds.get(level)
        if limit is not None and amount <= limit:
            return level
    return "critical"
