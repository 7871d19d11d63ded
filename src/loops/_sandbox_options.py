"""Settings of the ``sandbox_fixer`` loop: its scenarios and the convergence policy."""

from __future__ import annotations

from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ports import Scenario

__all__ = ["SandboxFixerOptions", "ScenarioSpec"]

_MAX_LABEL: Final = 50


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class ScenarioSpec(BaseModel):
    """One behavioural scenario: a command whose exit code says whether the behaviour holds."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """Unique name (letters, digits, `_`, `.`, `-`)."""
    command: str = Field(min_length=1)
    """Shell command line, run with `sh -c` at the root of a checkout."""
    expected_exit: int = 0
    """Exit code that means the scenario passes."""
    holdout: bool = False
    """A holdout judges the agent's work but never reaches it: not its name, command, files
    or output, only how many holdouts there are and fail."""
    files: tuple[str, ...] = ()
    """Paths (files or directories, relative to the repository) that belong to the scenario;
    a holdout's are absent from the agent's worktree."""
    timeout_s: float = Field(default=600.0, gt=0)
    """The command is killed (and the scenario fails) after this many seconds."""

    @field_validator("files")
    @classmethod
    def _relative(cls, files: tuple[str, ...]) -> tuple[str, ...]:
        for path in files:
            parts = path.split("/")
            if not path or path.startswith("/") or ".." in parts or "\\" in path:
                raise ValueError(f"{path!r} must be a relative path inside the repository")
        return tuple(path.rstrip("/") for path in files)

    def scenario(self) -> Scenario:
        return Scenario(
            name=self.name,
            command=self.command,
            expected_exit=self.expected_exit,
            holdout=self.holdout,
            timeout_s=self.timeout_s,
            files=self.files,
        )


class SandboxFixerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    scenarios: tuple[ScenarioSpec, ...] = ()
    """The scenarios, each a table with `name`, `command`, `expected_exit` (default 0),
    `holdout` (default false), `files` and `timeout_s` (default 600). None: the loop reports
    `unconfigured`."""
    repos: tuple[str, ...] = ()
    """Managed repositories the scenarios apply to (empty: every managed repository)."""
    base_branch: str = Field(default="main", min_length=1)
    """Branch the scenarios are judged on, attempts start from and change requests target."""
    satisfaction_threshold: float = Field(default=1.0, gt=0, le=1)
    """Share of scenarios (holdouts included) that must pass; below it the agent is sent."""
    max_attempts: int = Field(default=3, ge=1)
    """Counted agent attempts per failure signature (the set of failing scenarios and their
    exit codes) before the repository is escalated to a human."""
    stall_iterations: int = Field(default=3, ge=1)
    """Consecutive attempts without a better score after which the loop escalates early."""
    agent_timeout_s: float = Field(default=1800.0, gt=0)
    """Wall-clock limit of one agent attempt."""
    max_usd_per_attempt: float | None = Field(default=None, gt=0)
    """Cost cap of one agent attempt (none by default)."""
    output_tail_chars: int = Field(default=2000, ge=0, le=20_000)
    """Characters of each failing visible scenario's output shown to the agent."""
    protect_scenario_files: bool = True
    """An attempt whose diff touches a visible scenario's files fails as `tampered`."""
    trajectory_limit: int = Field(default=100, ge=1, le=10_000)
    """Scores kept per repository in the loop's state."""
    escalation_label: str = "human-required"
    """Label of the one issue filed (and then updated) per repository on escalation."""

    @field_validator("escalation_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value.strip() or len(value) > _MAX_LABEL or "," in value or "\n" in value:
            raise ValueError(f"1 to {_MAX_LABEL} characters, no comma or newline")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [s.name for s in self.scenarios]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"scenario names must be unique: {duplicates}")
        hidden = self.holdout_files
        shared = sorted(
            path
            for path in self.visible_files
            if any(_is_under(path, h) or _is_under(h, path) for h in hidden)
        )
        if shared:
            raise ValueError(f"files of visible scenarios overlap holdout files: {shared}")
        return self

    @property
    def holdout_files(self) -> tuple[str, ...]:
        """Every holdout scenario's files: excluded from the agent's worktree."""
        return tuple(dict.fromkeys(p for s in self.scenarios if s.holdout for p in s.files))

    @property
    def visible_files(self) -> tuple[str, ...]:
        """Every visible scenario's files: the agent must not change them."""
        return tuple(dict.fromkeys(p for s in self.scenarios if not s.holdout for p in s.files))
