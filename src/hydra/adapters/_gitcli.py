"""``git`` for the git adapters: every call through the Runner, in a fixed environment.

Each call runs ``git -c <option>… <args>`` with the C locale (stable messages to classify),
no terminal prompt, no optional index locks and a fixed author/committer identity taken from
the environment (which outranks any ``user.*``, ``author.*`` or ``committer.*`` setting of the
operator). Standard output is collected through the Runner's line hook, so an output larger
than the Runner's head/tail capture (a long ``ls-tree``, say) arrives whole, up to
``max_output`` bytes. A failure becomes :class:`ports.PortError` whose kind is read from git's
message and whose text names the command and the tail of its standard error.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from hydra.adapters._gitpaths import unquote
from hydra.adapters._gitshield import finish_within
from hydra.runner import Classifier, Runner, RunResult, StdoutLine
from ports import PortError, PortErrorKind

GIT_CLASSIFIER: Final = Classifier()
"""No output patterns: nothing local git prints is an auth or credit signal (a commit subject
saying "please log in" must not switch a loop off)."""

_CONFIG: Final = (
    "core.fsmonitor=false",  # never start a file-system monitor daemon that outlives the call
    "core.quotePath=false",  # non-ASCII paths verbatim; odd ones still C-quoted (see unquote)
    "color.ui=false",
    "commit.gpgSign=false",  # a signing prompt would hang an unattended call
)
_STDERR_TAIL: Final = 600
_READ_ONLY: Final = frozenset(
    {"cat-file", "diff", "diff-index", "for-each-ref", "ls-tree", "merge-base", "merge-tree",
     "rev-list", "rev-parse", "show-ref", "status"}
)  # fmt: skip
"""Commands that take no lock: a cancelled one is killed at once (see :mod:`._gitshield`)."""

_CONFLICT: Final = (
    "already exists",
    "already checked out",
    "is already used by worktree",
    "exists; cannot create",  # branch a/b exists, so branch a cannot (or the other way round)
)
_NOT_FOUND: Final = (
    "not a valid object name",
    "unknown revision",
    "bad revision",
    "invalid reference",
    "needed a single revision",
    "not a git repository",
    "no such ref",
    "does not exist",
)
_INVALID: Final = ("is not a valid branch name", "not a valid ref name", "bad pathspec")


@dataclass(frozen=True)
class GitIdentity:
    """Who Hydra's commits, merges and notes are by."""

    name: str = "Hydra"
    email: str = "hydra@localhost"


HYDRA_IDENTITY: Final = GitIdentity()


class LineSink(Protocol):
    """Receives git's standard output line by line; ``stopped`` after it asked to stop."""

    stopped: bool

    async def __call__(self, line: StdoutLine) -> bool | None: ...


class _Collect:
    """Keeps the whole standard output (lines joined back with ``\\n``), up to ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.stopped = False

    async def __call__(self, line: StdoutLine) -> bool:
        self.size += len(line) + 1 + line.dropped_bytes
        if line.truncated or self.size > self.limit:
            self.stopped = True
            return False
        self.parts.append(bytes(line))
        return True


@dataclass(frozen=True)
class GitOutput:
    code: int | None
    """The exit code (``None`` when a line sink stopped the call)."""
    stdout: bytes
    stderr: str = ""
    """The tail of standard error."""

    def text(self) -> str:
        return self.stdout.decode(errors="surrogateescape").strip()

    def lines(self) -> list[str]:
        """Newline-separated paths or records, C-quoted paths unquoted, empty lines dropped."""
        return [unquote(raw) for raw in self.stdout.split(b"\n") if raw]

    def fields(self) -> list[str]:
        """NUL-separated fields (``-z`` output); a trailing empty field is dropped."""
        parts = self.stdout.split(b"\0")
        if parts and not parts[-1]:
            parts.pop()
        return [part.decode(errors="surrogateescape") for part in parts]


_KINDS: Final[tuple[tuple[tuple[str, ...], PortErrorKind], ...]] = (
    (_CONFLICT, "conflict"),
    (_INVALID, "invalid"),
    (_NOT_FOUND, "not_found"),
)


def _kind(stderr: str) -> PortErrorKind:
    low = stderr.lower()
    for needles, kind in _KINDS:
        if any(needle in low for needle in needles):
            return kind
    return "failed"


class Git:
    """Runs git for one adapter; ``source`` labels every call's cost record."""

    def __init__(
        self,
        runner: Runner,
        *,
        source: str,
        port: str,
        identity: GitIdentity = HYDRA_IDENTITY,
        timeout_s: float = 120.0,
        cancel_grace_s: float = 10.0,
        max_output: int = 64 * 1024 * 1024,
    ) -> None:
        self.runner = runner
        self.source = source
        self.port = port
        self.timeout_s = timeout_s
        self.cancel_grace_s = cancel_grace_s
        self.max_output = max_output
        self._env = {
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_EDITOR": ":",
            "GIT_AUTHOR_NAME": identity.name,
            "GIT_AUTHOR_EMAIL": identity.email,
            "GIT_COMMITTER_NAME": identity.name,
            "GIT_COMMITTER_EMAIL": identity.email,
        }

    def error(self, kind: PortErrorKind, message: str) -> PortError:
        return PortError(kind, message, port=self.port)

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        ok: Collection[int] = (0,),
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        config: Sequence[str] = (),
        sink: LineSink | None = None,
    ) -> GitOutput:
        """Run ``git <args>`` in ``cwd``; raises :class:`PortError` unless it exits in ``ok``.

        With a ``sink`` the output goes there instead (and a call it stopped is no failure).
        Cancellation kills a read-only command at once; one that may write to the repository
        (or to its index) first gets ``cancel_grace_s`` to finish (see :mod:`._gitshield`).
        """
        collect = _Collect(self.max_output) if sink is None else None
        hook = sink or collect
        options = [part for item in (*_CONFIG, *config) for part in ("-c", item)]
        extra_env = {**self._env, **(env or {})}

        async def call() -> RunResult:
            return await self.runner.run(
                ["git", *options, *args],
                source=self.source,
                timeout=self.timeout_s,
                cwd=Path(cwd),
                env=extra_env,
                stdin=stdin,
                classifier=GIT_CLASSIFIER,
                on_stdout_line=hook,
            )

        scratch = "GIT_INDEX_FILE" in extra_env  # a throw-away index: no lock worth keeping
        if args[0] in _READ_ONLY or scratch:
            result = await call()
        else:
            result = await finish_within(self.cancel_grace_s, call)
        if collect is not None and collect.stopped:
            raise self.error(
                "failed",
                f"{_shown(args)}: output too large (over {collect.limit} bytes in all, "
                "or one line over the runner's line limit)",
            )
        if sink is not None and sink.stopped and result.status == "stopped":
            return GitOutput(None, b"")
        if result.status in ("ok", "failed") and result.exit_code in ok:
            stdout = b"\n".join(collect.parts) if collect else b""
            return GitOutput(result.exit_code, stdout, _stderr_tail(result))
        raise self._failure(args, result)

    def _failure(self, args: Sequence[str], result: RunResult) -> PortError:
        shown = _shown(args)
        if result.status == "timeout":
            return self.error("timeout", f"{shown}: {result.reason}")
        if result.exit_code is None and result.reason.startswith("not_found"):
            return self.error("unconfigured", "git is not installed (not found on PATH)")
        if result.reason.startswith("cwd_not_found"):
            return self.error("not_found", f"{shown}: the directory no longer exists")
        stderr = _stderr_tail(result)
        why = f"exit {result.exit_code}" if result.exit_code is not None else result.reason
        return self.error(_kind(stderr), f"{shown} failed ({why}): {stderr or '(no output)'}")


def _stderr_tail(result: RunResult) -> str:
    return result.stderr.text().strip()[-_STDERR_TAIL:]


def _shown(args: Sequence[str]) -> str:
    text = " ".join(["git", *args])
    return text if len(text) <= 160 else text[:157] + "..."
