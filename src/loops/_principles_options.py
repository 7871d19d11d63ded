"""Settings of the ``principles_audit`` loop, and the rule set they describe."""

from __future__ import annotations

from dataclasses import replace
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loops._principles_checks import builtin_file_rules
from loops._principles_rules import BUILTIN_RULES, CommandRule, Rule, Severity

__all__ = ["CommandRuleSpec", "PrinciplesOptions", "ruleset"]

RULE_ID: Final = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_MIB: Final = 1024 * 1024
_MAX_LABEL: Final = 50


class CommandRuleSpec(BaseModel):
    """An operator's rule: a shell command run in a checkout of the repository."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(pattern=RULE_ID)
    """Stable id (lowercase letters, digits, `_`, `.`, `-`); names the rule's records and issue."""
    description: str = Field(min_length=1, max_length=500)
    """What the rule asks of the repository, in one sentence."""
    severity: Severity = "error"
    """`info`, `warning`, `error` or `critical`; `error` and above block onboarding."""
    command: str = Field(min_length=1)
    """Shell command line, run with `sh -c` at the root of a fresh checkout of the base."""
    expected_exit: int = 0
    """Exit code that means the rule passes."""
    timeout_s: float = Field(default=600.0, gt=0)
    """The command is killed (and the rule fails) after this many seconds."""


class PrinciplesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rules: tuple[CommandRuleSpec, ...] = ()
    """Operator rules, each a table with `id`, `description`, `severity` (default `error`),
    `command`, `expected_exit` (default 0) and `timeout_s` (default 600); run after the
    built-in rules."""
    test_command: str | None = None
    """When set, the built-in `test_command` rule runs it in the checkout and needs exit 0."""
    test_timeout_s: float = Field(default=1800.0, gt=0)
    """The test command is killed (and the rule fails) after this many seconds."""
    max_file_bytes: int = Field(default=5 * _MIB, gt=0)
    """The `file_size` rule fails for any tracked file larger than this."""
    secret_scan_max_bytes: int = Field(default=_MIB, gt=0)
    """The `secrets` rule scans tracked text files up to this size (larger ones are skipped)."""
    secret_allow_paths: tuple[str, ...] = ()
    """Glob patterns (`*` also crosses `/`) of tracked paths the `secrets` rule does not scan,
    such as test fixtures holding fake keys."""
    severities: dict[str, Severity] = Field(default_factory=dict)
    """Severity overrides by rule id, built-in or operator."""
    disabled_rules: tuple[str, ...] = ()
    """Rule ids not audited at all."""
    stuck_after: int = Field(default=3, ge=1)
    """Consecutive failing audits after which a rule gets its issue."""
    stuck_label: str = "principles-stuck"
    """Label of the one issue filed per repository and stuck rule."""

    @field_validator("stuck_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value.strip() or len(value) > _MAX_LABEL or "," in value or "\n" in value:
            raise ValueError(f"1 to {_MAX_LABEL} characters, no comma or newline")
        return value

    @model_validator(mode="after")
    def _ids(self) -> Self:
        custom = [r.id for r in self.rules]
        clashes = sorted({i for i in custom if i in BUILTIN_RULES or custom.count(i) > 1})
        if clashes:
            raise ValueError(f"rule ids must be unique and not built-in: {clashes}")
        known = {*BUILTIN_RULES, *custom}
        unknown = sorted({*self.severities, *self.disabled_rules} - known)
        if unknown:
            raise ValueError(f"unknown rule ids {unknown}; known: {sorted(known)}")
        return self


def ruleset(options: PrinciplesOptions) -> tuple[Rule, ...]:
    """Every rule to audit, in order: built-in file rules, the test command, operator rules."""
    rules: list[Rule] = list(
        builtin_file_rules(
            max_file_bytes=options.max_file_bytes,
            secret_scan_max_bytes=options.secret_scan_max_bytes,
            secret_allow_paths=options.secret_allow_paths,
        )
    )
    if options.test_command:
        severity, description = BUILTIN_RULES["test_command"]
        rules.append(
            CommandRule(
                "test_command",
                severity,
                description,
                options.test_command,
                0,
                options.test_timeout_s,
            )
        )
    rules.extend(
        CommandRule(r.id, r.severity, r.description, r.command, r.expected_exit, r.timeout_s)
        for r in options.rules
    )
    disabled = frozenset(options.disabled_rules)
    return tuple(
        _with_severity(rule, options.severities.get(rule.id))
        for rule in rules
        if rule.id not in disabled
    )


def _with_severity(rule: Rule, severity: Severity | None) -> Rule:
    if severity is None or severity == rule.severity:
        return rule
    return replace(rule, severity=severity)
