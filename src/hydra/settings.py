"""Daemon settings: ``hydra.toml`` (or ``--config PATH``), then ``HYDRA_…`` environment variables.

Environment variables override the file; ``__`` separates nesting levels, so
``HYDRA_LOOPS__HEALTH__ENABLED=false`` sets ``[loops.health] enabled = false``. A list or table
is given as JSON: ``HYDRA_LOOPS__PREFLIGHT__DENY_LABELS='["a", "b"]'``. Per-loop tables are
validated against the loop's own options model once the registry is known
(:mod:`hydra.loop_config`); a loop option set in the environment reaches it as an
:class:`EnvText`, which names its variable, and is decoded as JSON there when the option wants a
list, a table or a model. Any unknown key or bad value is a :class:`SettingsError` whose
message is one line naming the key and the reason; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from hydra.repos import REPO_NAME_RE, ManagedRepo, default_repo

DEFAULT_CONFIG_FILE = "hydra.toml"
ENV_PREFIX = "HYDRA_"


class SettingsError(Exception):
    """Settings cannot be loaded; ``str()`` is one line naming the key and the reason."""


class EnvText(str):
    """A loop option's text as read from the environment, with the variable it came from.

    The options model of a loop is only known once the registry is, so the text travels as is
    in :attr:`HydraSettings.loops` and :mod:`hydra.loop_config` decodes it (as JSON where the
    option is a list, a table or a model), naming :attr:`variable` when it cannot.
    """

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvText:
        text = super().__new__(cls, value)
        text.variable = variable
        return text

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (str(self), self.variable)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    allowed_hosts: tuple[str, ...] = ()
    """Extra ``Host`` header names accepted besides loopback names and ``host`` itself."""
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    unix_socket: Path | None = None
    """Listen on this Unix socket (mode 0600) instead of TCP."""


class AuditSettings(_Section):
    segment_max_mb: float = Field(default=16.0, gt=0)
    """Active segments are validated line by line at start-up; smaller ones open faster."""
    sync: Literal["auto", "fsync", "syncfs"] = "auto"


class OrchestratorSettings(_Section):
    jitter_ratio: float = Field(default=0.1, ge=0, le=1)
    """Each interval is stretched by a random fraction up to this, so loops do not align."""
    first_tick_spread_s: float = Field(default=5.0, ge=0)
    """First ticks are spread over up to this many seconds after start-up."""
    backoff_base_s: float = Field(default=10.0, gt=0)
    backoff_cap_s: float = Field(default=900.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    """How long in-flight ticks may run on after SIGTERM before they are cancelled."""


class RepoSettings(_Section):
    """One managed repository (``[repos.<name>]``)."""

    path: Path = Path()
    """Its local checkout (relative paths are taken from the working directory)."""
    github: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """``owner/name`` on GitHub; required in the ``github`` world."""
    base: str | None = None
    """Base branch for worktrees and change requests; default: the checkout's ``HEAD``."""


class ClaudeSettings(_Section):
    command: str = "claude"
    model: str | None = None
    permission_mode: Literal["acceptEdits", "auto", "default", "dontAsk", "plan"] = "acceptEdits"
    """``bypassPermissions`` is not offered: the CLI refuses it as root, and it is unsafe."""
    allowed_tools: tuple[str, ...] = ()
    """Tools the agent may use without asking (e.g. ``Bash(pytest:*)``); others are refused."""
    max_turns: int | None = Field(default=None, gt=0)


class CodexSettings(_Section):
    command: str = "codex"
    model: str | None = None
    """Set it: ``codex exec`` does not report its model, so an unset one is priced high."""
    sandbox: Literal["read-only", "workspace-write"] = "workspace-write"


class AgentSettings(_Section):
    provider: Literal["auto", "claude", "codex", "none"] = "auto"
    """``auto`` takes the first of claude, codex found on PATH."""
    claude: ClaudeSettings = ClaudeSettings()
    codex: CodexSettings = CodexSettings()
    pass_env: tuple[str, ...] = ("ANTHROPIC_API_KEY", "CODEX_API_KEY", "OPENAI_API_KEY")
    """Keys handed to agent CLIs (as secrets, never on a command line): ``ANTHROPIC_API_KEY`` to
    claude; ``CODEX_API_KEY`` (or, failing that, ``OPENAI_API_KEY``) to codex."""


class GithubSettings(_Section):
    command: str = "gh"
    pass_env: tuple[str, ...] = ("GH_TOKEN", "GITHUB_TOKEN", "GH_HOST", "GH_CONFIG_DIR")
    """Environment variables handed to ``gh``."""


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class HydraSettings(BaseSettings):
    """Everything the daemon reads at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Path(".hydra")
    world: Literal["local", "github", "fake"] = "local"
    api: ApiSettings = ApiSettings()
    api_token: SecretStr | None = None
    """Bearer token for ``/api``; generated into the data dir on first start when unset or
    blank."""
    audit: AuditSettings = AuditSettings()
    orchestrator: OrchestratorSettings = OrchestratorSettings()
    log: LogSettings = LogSettings()
    repos: dict[str, RepoSettings] = Field(default_factory=dict)
    """Managed repositories; none configured means the repository the daemon runs in."""
    agent: AgentSettings = AgentSettings()
    github: GithubSettings = GithubSettings()
    loops: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Raw ``[loops.<name>]`` tables; validated per loop by :mod:`hydra.loop_config`."""

    @field_validator("api_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        """``HYDRA_API_TOKEN=`` (e.g. ``${HYDRA_API_TOKEN}`` of an unset variable in a compose
        file) means "not set": a token is then generated, never an empty one accepted."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str):
            raw = raw.strip()
            return raw or None
        return value

    @field_validator("repos")
    @classmethod
    def _repo_names(cls, value: dict[str, RepoSettings]) -> dict[str, RepoSettings]:
        for name in value:
            if not REPO_NAME_RE.match(name):
                raise ValueError(f"repository name {name!r}: letters, digits, '.', '_', '-' only")
        return value

    @field_validator("loops", mode="before")
    @classmethod
    def _tables_only(cls, value: object) -> object:
        if isinstance(value, dict):
            for name, table in value.items():
                if not isinstance(table, dict):
                    raise ValueError(f"[loops.{name}] must be a table")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command-line overrides (init kwargs) beat the environment, which beats the file.
        return (init_settings, _EnvSource(settings_cls), _FileSource(settings_cls))


class _EnvSource(EnvSettingsSource):
    """``HYDRA_…`` variables; the values of ``[loops.<name>]`` keys become :class:`EnvText`; a
    blank ``HYDRA_API_TOKEN`` counts as unset."""

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        token = data.get("api_token")
        if isinstance(token, str) and not token.strip():
            del data["api_token"]  # HYDRA_API_TOKEN= is unset: the file's api_token applies
        loops = data.get("loops")
        if isinstance(loops, dict):
            data["loops"] = {
                loop: _mark_env(loop, table) if isinstance(table, dict) else table
                for loop, table in loops.items()
            }
        return data


def _mark_env(loop: str, table: dict[str, Any]) -> dict[str, Any]:
    names = {key.upper(): key for key in os.environ}
    marked = dict(table)
    for key, value in table.items():
        variable = names.get(f"{ENV_PREFIX}LOOPS__{loop}__{key}".upper())
        if isinstance(value, str) and variable is not None:
            marked[key] = EnvText(value, variable)
    return marked


_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("hydra_settings_file", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The parsed config file, handed over by :func:`load_settings` through a context variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        data = _FILE_DATA.get() or {}
        return data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


def format_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """One line for the first error: dotted key path, reason and the offending value."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) if err["loc"] else "(root)"
    key = f"{prefix}{loc}" if prefix else loc
    reason = err["msg"]
    if err["type"] == "extra_forbidden":
        reason = "unknown key"
    elif "input" in err and not isinstance(err["input"], dict | list):
        reason = f"{reason} (got {err['input']!r})"
    more = len(exc.errors()) - 1
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"{key}: {reason}{suffix}"


def read_config_file(
    path: Path | None, *, cwd: Path | None = None
) -> tuple[Path | None, dict[str, Any]]:
    """The TOML file to use and its contents.

    ``path`` given: it must exist. Not given: ``hydra.toml`` in ``cwd`` if present, else none.
    """
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not candidate.is_file():
            return None, {}
        path = candidate
    try:
        with path.open("rb") as fh:
            return path, tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"config file {path}: cannot read: {exc.strerror}") from None


def load_settings(
    path: Path | None = None, *, cwd: Path | None = None, **overrides: Any
) -> HydraSettings:
    """Load settings from the config file and the environment.

    ``overrides`` (from command-line flags) win over both. Raises :class:`SettingsError`, also
    for a bad value in the file or the environment that a flag overrides (it is still a
    mistake, and would bite the next start without the flag).
    """
    _, data = read_config_file(path, cwd=cwd)
    token = _FILE_DATA.set(data)
    try:
        if overrides:
            HydraSettings()
        settings = HydraSettings(**overrides)
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc)) from None
    finally:
        _FILE_DATA.reset(token)
    base = cwd or Path.cwd()
    if not settings.data_dir.is_absolute():
        settings = settings.model_copy(update={"data_dir": base / settings.data_dir})
    return settings


def managed_repos(settings: HydraSettings, *, cwd: Path | None = None) -> list[ManagedRepo]:
    """The configured repositories (paths made absolute), or the one the daemon runs in."""
    base = cwd or Path.cwd()
    if not settings.repos:
        return [default_repo(base)]
    return [
        ManagedRepo(
            name=name,
            path=(repo.path if repo.path.is_absolute() else base / repo.path).resolve(),
            github=repo.github,
            base=repo.base,
        )
        for name, repo in settings.repos.items()
    ]
