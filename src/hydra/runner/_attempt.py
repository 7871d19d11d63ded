"""One attempt: spawn the child in its own session, supervise it, leave nothing behind.

While the child runs, stdout and stderr are drained concurrently into bounded buffers
(a child filling one pipe never deadlocks the other), stdout lines go to the optional
hook, and the attempt waits for the first of: the child exits, the hook asks to stop,
the hard timeout expires. Whatever happens, including cancellation of the awaiting
task, the attempt ends only after the child's whole process group is gone and reaped
(or, for a process stuck in the kernel, after a bounded wait).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from hydra.runner._capture import HeadTailBuffer, LineSplitter, StdoutLine
from hydra.runner._clock import Clock
from hydra.runner._group import ProcessGroup
from hydra.runner._outcome import Cause, Outcome
from hydra.runner._registry import ProcessRegistry
from hydra.runner._telemetry import LineHook

__all__ = ["Attempt", "AttemptSpec", "Limits"]

_STREAM_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError)


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    argv: tuple[str, ...]
    cwd: str | None
    env: Mapping[str, str]
    stdin: bytes | None
    timeout: float
    on_stdout_line: LineHook | None


@dataclass(frozen=True, slots=True)
class Limits:
    capture_head: int
    capture_tail: int
    max_line: int
    term_grace: float
    cancel_grace: float
    drain_grace: float


def _spawn_error(exc: OSError | ValueError, cwd: str | None) -> str:
    """A stable reason: ``not_found``, ``permission_denied`` (``cwd_`` prefixed when the
    working directory is the problem), ``spawn_error: …`` or ``invalid_argument: …``."""
    if isinstance(exc, ValueError):
        return f"invalid_argument: {exc}"
    prefix = "cwd_" if cwd is not None and exc.filename == cwd else ""
    if isinstance(exc, FileNotFoundError):
        return f"{prefix}not_found"
    if isinstance(exc, PermissionError):
        return f"{prefix}permission_denied"
    return f"spawn_error: {exc.strerror or exc}"


async def _feed(stream: ByteSendStream, data: bytes) -> None:
    try:
        if data:
            await stream.send(data)
        await stream.aclose()
    except (*_STREAM_GONE, OSError):
        return  # the child exited or closed stdin without reading it all


async def _close(process: Process) -> None:
    if process.returncode is not None:
        await process.aclose()
        return
    # The leader survived SIGKILL (uninterruptible sleep): close our ends and let
    # asyncio's child watcher reap it whenever it finally dies.
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            await stream.aclose()


class Attempt:
    """A single spawn. Use once: ``await Attempt(...).run()``."""

    def __init__(
        self, spec: AttemptSpec, limits: Limits, registry: ProcessRegistry, clock: Clock
    ) -> None:
        self._spec = spec
        self._limits = limits
        self._registry = registry
        self._clock = clock
        self._stdout = HeadTailBuffer(limits.capture_head, limits.capture_tail)
        self._stderr = HeadTailBuffer(limits.capture_head, limits.capture_tail)
        self._lines = LineSplitter(limits.max_line) if spec.on_stdout_line else None
        self._wake = anyio.Event()
        self._drained = anyio.Event()
        self._drains_left = 2
        self._stop_requested = False
        self._hook_error: Exception | None = None
        self._started = 0.0
        self._returncode: int | None = None
        self._leftovers_killed = False
        self._pipes_held = False
        self._group_survived = False

    def outcome(self, cause: Cause | None, *, spawn_error: str | None = None) -> Outcome:
        """The facts so far (also usable after `run` raised, with ``cause="cancelled"``)."""
        return Outcome(
            argv=self._spec.argv,
            returncode=self._returncode,
            cause=cause,
            stdout=self._stdout.snapshot(),
            stderr=self._stderr.snapshot(),
            duration_s=max(0.0, self._clock.monotonic() - self._started),
            timeout_s=self._spec.timeout,
            spawn_error=spawn_error,
            hook_error=self._hook_error,
            leftovers_killed=self._leftovers_killed,
            pipes_held=self._pipes_held,
            group_survived=self._group_survived,
        )

    async def run(self) -> Outcome:
        """Spawn, supervise and clean up; cancellation kills the group, then propagates."""
        self._started = self._clock.monotonic()
        # Spawning is shielded: asyncio cancelled mid-spawn kills only the leader and
        # leaks its pipes. It takes milliseconds; a pending cancellation then lands in
        # `_supervise`, where it kills the whole group.
        with self._registry.spawning(), anyio.CancelScope(shield=True):
            try:
                process = await anyio.open_process(
                    list(self._spec.argv),
                    stdin=subprocess.PIPE if self._spec.stdin is not None else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=self._spec.cwd,
                    env=self._spec.env,
                    start_new_session=True,
                )
            except (OSError, ValueError) as exc:
                return self.outcome(None, spawn_error=_spawn_error(exc, self._spec.cwd))
            group = ProcessGroup(process)
            self._registry.register(group)
        try:
            cause = await self._supervise(process, group)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await group.terminate(self._limits.cancel_grace)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await _close(process)
            self._returncode = process.returncode
            self._group_survived = not group.leader_reaped or group.exists()
            self._registry.release(group)
        return self.outcome(cause)

    async def _supervise(self, process: Process, group: ProcessGroup) -> Cause | None:
        stdout, stderr = process.stdout, process.stderr
        if stdout is None or stderr is None:  # pragma: no cover - both are pipes by construction
            msg = "child output is not piped"
            raise RuntimeError(msg)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._drain, stdout, self._stdout, self._lines)
            tg.start_soon(self._drain, stderr, self._stderr, None)
            if process.stdin is not None and self._spec.stdin is not None:
                tg.start_soon(_feed, process.stdin, self._spec.stdin)
            tg.start_soon(self._watch, process)
            with anyio.move_on_after(self._spec.timeout) as deadline:
                await self._wake.wait()
            cause = self._cause(group, timed_out=deadline.cancelled_caught)
            if cause is None:
                self._leftovers_killed = await group.clear_leftovers(self._limits.cancel_grace)
            else:
                await group.terminate(self._limits.term_grace)
            # EOF normally follows at once; only a process that left the group can hold
            # a pipe open now, and its output is not worth waiting for.
            with anyio.move_on_after(self._limits.drain_grace):
                await self._drained.wait()
            self._pipes_held = not self._drained.is_set()
            tg.cancel_scope.cancel()
        return cause

    def _cause(self, group: ProcessGroup, *, timed_out: bool) -> Cause | None:
        if group.stopped_by is not None:
            return "kill_all"
        if timed_out:
            return "timeout"
        if self._stop_requested:
            return "stopped"
        return None

    async def _watch(self, process: Process) -> None:
        await process.wait()
        self._wake.set()

    async def _drain(
        self, stream: ByteReceiveStream, buffer: HeadTailBuffer, lines: LineSplitter | None
    ) -> None:
        try:
            async for chunk in stream:
                buffer.feed(chunk)
                if lines is not None:
                    for line in lines.feed(chunk):
                        await self._deliver(line)
            if lines is not None and (last := lines.flush()) is not None:
                await self._deliver(last)
        except _STREAM_GONE:
            return
        finally:
            self._drains_left -= 1
            if self._drains_left == 0:
                self._drained.set()

    async def _deliver(self, line: StdoutLine) -> None:
        hook = self._spec.on_stdout_line
        if hook is None or self._stop_requested:
            return
        try:
            keep_going = await hook(line)
        except Exception as exc:  # noqa: BLE001 - the runner re-raises it after cleanup
            self._hook_error = exc
            keep_going = False
        if keep_going is False:
            self._stop_requested = True
            self._wake.set()
