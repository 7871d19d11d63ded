"""What a principle is: an id, a severity, a description and a check over a checkout.

Two kinds of rule exist. A :class:`FileRule` looks at the tracked files of a checkout (through
:class:`Tree`); a :class:`CommandRule` runs a shell command in the checkout through the
SandboxPort and passes when it exits as expected. Operators add command rules in settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from ports import TrackedFile

__all__ = [
    "BLOCKING_SEVERITY",
    "BUILTIN_RULES",
    "SEVERITY_RANK",
    "CommandRule",
    "FileRule",
    "Finding",
    "Rule",
    "Severity",
    "Tree",
    "blocks",
]

Severity = Literal["info", "warning", "error", "critical"]
SEVERITY_RANK: Final[dict[Severity, int]] = {"info": 0, "warning": 1, "error": 2, "critical": 3}
BLOCKING_SEVERITY: Final[Severity] = "error"
"""A failing rule of this severity or above keeps a repository ``blocked``."""

BUILTIN_RULES: Final[dict[str, tuple[Severity, str]]] = {
    "readme": ("error", "A README at the repository root."),
    "license": ("warning", "A LICENSE, LICENCE or COPYING file at the repository root."),
    "tests": ("error", "A tests directory (tests/, test/, __tests__/, spec/) in the tree."),
    "ci": ("error", "CI configuration (.github/workflows, .gitlab-ci.yml, .ci/, …)."),
    "lint": ("warning", "Lint configuration (ruff, flake8, pylint, eslint, golangci, …)."),
    "secrets": ("critical", "No committed credentials (cloud, GitHub, AI, Slack keys, PEM)."),
    "file_size": ("error", "No tracked file over the size limit."),
    "test_command": ("error", "The configured test command passes."),
}
"""Built-in rule ids with their default severity and description."""


def blocks(severity: Severity) -> bool:
    """Whether a failing rule of ``severity`` blocks onboarding."""
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[BLOCKING_SEVERITY]


@dataclass(frozen=True)
class Finding:
    """What a check found."""

    passed: bool
    summary: str
    """One line, built by the check: never file content (it goes to the audit stream)."""
    evidence: tuple[str, ...] = ()
    """Paths or ``path:line`` entries, bounded by the check."""
    output: str = ""
    """Output tail of a command rule (shown redacted in issues, never in the audit stream)."""


class Tree(Protocol):
    """The tracked files of a checkout, as checks see them."""

    @property
    def files(self) -> Sequence[TrackedFile]:
        """Every committed file with its size, sorted by path."""
        ...

    async def read(self, path: str, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes`` of a tracked file, ``None`` when it vanished."""
        ...


@dataclass(frozen=True)
class FileRule:
    id: str
    severity: Severity
    description: str
    check: Callable[[Tree], Awaitable[Finding]]


@dataclass(frozen=True)
class CommandRule:
    id: str
    severity: Severity
    description: str
    command: str
    expected_exit: int = 0
    timeout_s: float = 600.0


Rule = FileRule | CommandRule
