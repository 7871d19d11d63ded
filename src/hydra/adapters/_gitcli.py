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

_CONFLICT: Final = ("already exists", "already checked out", "is already used by worktree")
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


_ESCAPES: Final = {
    ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
    ord("r"): 13, ord('"'): 34, ord("\\"): 92,
}  # fmt: skip


def unquote(raw: bytes) -> str:
    """A path as git prints it without ``-z``: verbatim, or C-quoted when it holds odd bytes."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return raw.decode(errors="surrogateescape")
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        byte = body[i]
        if byte == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if 48 <= nxt <= 55:  # \ooo: one raw byte in octal
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(byte)
        i += 1
    return out.decode(errors="surrogateescape")


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
        max_output: int = 64 * 1024 * 1024,
    ) -> None:
        self.runner = runner
        self.source = source
        self.port = port
        self.timeout_s = timeout_s
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
        """
        collect = _Collect(self.max_output) if sink is None else None
        hook = sink or collect
        options = [part for item in (*_CONFIG, *config) for part in ("-c", item)]
        result = await self.runner.run(
            ["git", *options, *args],
            source=self.source,
            timeout=self.timeout_s,
            cwd=Path(cwd),
            env={**self._env, **(env or {})},
            stdin=stdin,
            classifier=GIT_CLASSIFIER,
            on_stdout_line=hook,
        )
        if collect is not None and collect.stopped:
            raise self.error("failed", f"{_shown(args)}: output over {collect.limit} bytes")
        if sink is not None and sink.stopped and result.status == "stopped":
            return GitOutput(None, b"")
        if result.status in ("ok", "failed") and result.exit_code in ok:
            return GitOutput(result.exit_code, b"\n".join(collect.parts) if collect else b"")
        raise self._failure(args, result)

    def _failure(self, args: Sequence[str], result: RunResult) -> PortError:
        shown = _shown(args)
        if result.status == "timeout":
            return self.error("timeout", f"{shown}: {result.reason}")
        if result.exit_code is None and result.reason.startswith("not_found"):
            return self.error("unconfigured", "git is not installed (not found on PATH)")
        if result.reason.startswith("cwd_not_found"):
            return self.error("not_found", f"{shown}: the directory no longer exists")
        stderr = result.stderr.text().strip()[-_STDERR_TAIL:]
        why = f"exit {result.exit_code}" if result.exit_code is not None else result.reason
        return self.error(_kind(stderr), f"{shown} failed ({why}): {stderr or '(no output)'}")


def _shown(args: Sequence[str]) -> str:
    text = " ".join(["git", *args])
    return text if len(text) <= 160 else text[:157] + "..."
