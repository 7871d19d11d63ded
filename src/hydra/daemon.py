"""The composition root: builds every part from settings and runs them until a signal.

Order of start-up: data dir lock, logging, registry and loop configs, sweep of the temp files
killed writers left, audit log, switch board (with control-stream replay), cost ledger, world,
orchestrator (closing lost ticks), API. Order of shutdown on SIGTERM/SIGINT: stop accepting
requests, stop scheduling, let ticks run for the grace period, cancel the rest, write
``daemon.stopped`` in a shielded, time-limited scope, flush the audit log, exit 0.

A failed fsync (an audit stream, a state file, the local issue inbox) pulls the daemon's
:class:`FatalSignal`: the daemon stops at once, writes one ``daemon.fatal`` line on stderr and
exits with code 70. A damaged ``control`` stream refuses the start (exit 2, one line naming
the fix).
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import filelock

from hydra import __version__
from hydra.audit import AuditFatal, AuditLog, StreamDamaged
from hydra.budgets import BudgetGuard
from hydra.costs import CostLedger
from hydra.daemon_info import remove_daemon_info, write_daemon_info
from hydra.fatal import FatalSignal
from hydra.ids import utc_iso
from hydra.logs import configure_logging, get_logger
from hydra.loop_config import resolve_loop_configs
from hydra.loop_services import open_services
from hydra.orchestrator import Orchestrator
from hydra.redact import Redactor, secrets_in_env
from hydra.registry import LoopRegistry
from hydra.runner import Runner, kill_all, reap_orphans
from hydra.runtime import Runtime
from hydra.sdk import AuditSink
from hydra.settings import HydraSettings, managed_repos
from hydra.shadow import world_chooser
from hydra.startup import (
    StartupError,
    announce,
    build_world,
    check_streams,
    control_records,
    cost_records,
    last_tick,
    refuse_damaged,
    state_dirs,
    stop_damaged_loops,
    sweep_state_temps,
)
from hydra.statefile import DurabilityError
from hydra.switches import SwitchBoard
from hydra.token import ensure_token
from ports import World

__all__ = ["EXIT_FATAL", "DaemonHooks", "StartupError", "run_daemon"]

EXIT_FATAL = 70
HOUSEKEEPING_S = 5.0
SHUTDOWN_RECORD_TIMEOUT_S = 5.0


@dataclass
class DaemonHooks:
    """Optional seams for tests and embedding."""

    registry: LoopRegistry | None = None
    world_factory: Callable[[HydraSettings, Path], World] | None = None
    on_ready: Callable[[Runtime, str], None] | None = None
    """Called with the runtime and the dashboard URL once the API listens."""
    extra_secrets: list[str] = field(default_factory=list)


def _lock_data_dir(data_dir: Path) -> filelock.BaseFileLock:
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(data_dir / "daemon.lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise StartupError(f"another hydra daemon is already running on {data_dir}") from None
    return lock


def _bind_unix(path: Path) -> socket.socket:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise StartupError(f"cannot listen on {path}: it exists and is not a socket")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    path.chmod(0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _listen(settings: HydraSettings) -> socket.socket:
    from hydra.api.security import is_loopback  # the web layer loads with the server

    api = settings.api
    if api.unix_socket is not None:
        return _bind_unix(api.unix_socket)
    if not is_loopback(api.host) and settings.api_token is None:
        raise StartupError(
            f"refusing to listen on non-loopback address {api.host}: set HYDRA_API_TOKEN "
            "(or api_token) explicitly first"
        )
    return _bind(api.host, api.port)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listener says it is TCP; without it every reused connection waits for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def run_daemon(settings: HydraSettings, hooks: DaemonHooks | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    hooks = hooks or DaemonHooks()
    data_dir = settings.data_dir
    lock = _lock_data_dir(data_dir)
    failed: BaseException | None = None
    try:
        return await _run_locked(settings, hooks, data_dir)
    except* (AuditFatal, DurabilityError) as group:  # during start-up; later ones are served
        failed = _first_leaf(group)
    finally:
        lock.release()
    get_logger("hydra").critical("daemon.fatal", error=str(failed), exit_code=EXIT_FATAL)
    return EXIT_FATAL


async def _run_locked(settings: HydraSettings, hooks: DaemonHooks, data_dir: Path) -> int:
    token, generated = ensure_token(settings, data_dir)
    handed = (*settings.agent.pass_env, *settings.github.pass_env)
    redactor = Redactor([token, *hooks.extra_secrets, *secrets_in_env(handed, os.environ)])
    configure_logging(redactor, level=settings.log.level, fmt=settings.log.format)
    log = get_logger("hydra")
    registry = hooks.registry or LoopRegistry.discover()
    configs = resolve_loop_configs(
        settings.loops, registry, default_mode="live" if settings.world == "fake" else None
    )
    broken = {e.name: e.error or e.status for e in registry if e.status == "broken"}
    for name, error in broken.items():
        log.error("loop.broken", loop=name, error=error)
    repos = managed_repos(settings)
    # Under the lock and before any part of this daemon writes a state file: the temp files
    # with our own pid are then an earlier incarnation's (a container's pid 1 at every start).
    await sweep_state_temps(state_dirs(data_dir, [r.name for r in repos]), log)
    audit_root = data_dir / "audit"
    from hydra.api.metrics import Metrics

    metrics = Metrics()
    fatal = FatalSignal()
    # Closed on every way out (a clean stop of the server closes it first: harmless).
    with _listen(settings) as sock:
        async with AuditLog(
            audit_root,
            segment_max_bytes=int(settings.audit.segment_max_mb * 1024 * 1024),
            redact=redactor,
            sync=settings.audit.sync,
            on_commit=metrics.on_commit,
        ) as audit:
            control = await audit.stream("control")
            refuse_damaged(control)
            costs = await audit.stream("costs")
            refuse_damaged(costs)
            changes = await audit.stream("changes")
            services = await open_services(audit, audit_root, data_dir / "state", fatal=fatal)
            sinks: dict[str, AuditSink] = {name: await audit.stream(name) for name in configs}
            others = {s.name: s for s in (costs, changes, await audit.stream("escalations"))}
            streams = check_streams(others, sinks)
            for problem in streams.problems:
                log.critical("audit.damaged", problem=problem)
            board = await SwitchBoard.load(
                data_dir / "state" / "switches.json",
                control,
                configs,
                broken=broken,
                replay=control_records(audit_root),
                repos=[r.name for r in repos],
                fatal=fatal,
            )
            ledger = CostLedger(costs, history=cost_records(audit_root))
            budgets = BudgetGuard(ledger, board)
            runner = Runner(cost_sink=ledger.runner_sink())
            world = (
                hooks.world_factory(settings, data_dir)
                if hooks.world_factory is not None
                else build_world(
                    settings,
                    data_dir,
                    repos=repos,
                    runner=runner,
                    ledger=ledger,
                    changes=changes,
                    fatal=fatal,
                )
            )
            orchestrator = Orchestrator(
                registry,
                configs,
                board,
                settings=settings.orchestrator,
                world_for=world_chooser(world),
                services=services,
                fatal_errors=(StreamDamaged,),
                log=log,
            )
            orchestrator.deps.observers.append(metrics.on_outcome)
            damaged = streams.damaged_loops
            lost = await orchestrator.prepare(
                sinks, lambda name: None if name in damaged else last_tick(audit_root, name)
            )
            stop_damaged_loops(orchestrator, damaged)
            runtime = Runtime(
                settings=settings,
                registry=registry,
                configs=configs,
                board=board,
                orchestrator=orchestrator,
                ledger=ledger,
                world=world,
                audit=audit,
                token=token,
                data_dir=data_dir,
                started_at=utc_iso(datetime.now(UTC)),
                problems=streams.problems,
                escalations=services.escalations,
                budgets=budgets,
                fatal=fatal,
                redactor=redactor,
            )
            return await _serve(
                runtime, sock, control, log, hooks, metrics=metrics, generated=generated, lost=lost
            )


async def _serve(
    runtime: Runtime,
    sock: socket.socket,
    control: Any,
    log: Any,
    hooks: DaemonHooks,
    *,
    metrics: Any,
    generated: bool,
    lost: list[str],
) -> int:
    from hydra.api import create_app
    from hydra.webserver import EmbeddedServer

    url = _url_of(sock)
    server = EmbeddedServer(create_app(runtime, metrics), sock)
    stop = anyio.Event()
    fatal = runtime.fatal

    async def relay_audit_fatal() -> None:
        fatal.trigger(await runtime.audit.wait_fatal())

    async def watch_fatal() -> None:
        await fatal.wait()
        stop.set()

    async def housekeeping() -> None:
        while True:
            await anyio.sleep(HOUSEKEEPING_S)
            await anyio.to_thread.run_sync(reap_orphans)

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("daemon.signal", signal=signal.Signals(signum).name)
                if stop.is_set():
                    orchestrator_cancel_all(runtime)
                stop.set()

    try:
        await control.append(
            "daemon.started",
            actor="daemon",
            payload={
                "pid": os.getpid(),
                "version": __version__,
                "url": url,
                "world": runtime.world.kind,
                "loops": sorted(runtime.configs),
                "lost_ticks": lost,
                "token_generated": generated,
            },
        )
        write_daemon_info(runtime.data_dir, pid=os.getpid(), url=url, started_at=runtime.started_at)
        if runtime.budgets is not None:  # spend of earlier runs today, caps lowered in config
            await runtime.budgets.check_all(sorted(runtime.configs))
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay_audit_fatal, name="relay-audit-fatal")
            tg.start_soon(watch_fatal, name="watch-fatal")
            tg.start_soon(watch_signals, name="watch-signals")
            tg.start_soon(housekeeping, name="housekeeping")
            await tg.start(runtime.orchestrator.run, name="orchestrator")
            await tg.start(server.serve, name="api")
            log.info("daemon.ready", url=url, loops=len(runtime.configs), world=runtime.world.kind)
            announce(url, runtime.token, generated=generated, settings=runtime.settings)
            if hooks.on_ready is not None:
                hooks.on_ready(runtime, url)
            await stop.wait()
            if not fatal.triggered:
                await _shutdown(runtime, server, control, log)
            tg.cancel_scope.cancel()
    except* (AuditFatal, DurabilityError) as group:
        fatal.trigger(_first_leaf(group))
    finally:
        remove_daemon_info(runtime.data_dir, pid=os.getpid())
    if fatal.error is None:
        return 0
    kill_all()  # the cancelled ticks killed their process groups; this is the backstop
    log.critical("daemon.fatal", error=str(fatal.error), exit_code=EXIT_FATAL)
    return EXIT_FATAL


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _url_of(sock: socket.socket) -> str:
    if sock.family == socket.AF_UNIX:
        return f"http+unix://{quote(str(sock.getsockname()), safe='')}/"
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host
    return f"http://{url_host}:{port}/"


def orchestrator_cancel_all(runtime: Runtime) -> None:
    """A second signal: cancel every in-flight tick now instead of waiting for the grace."""
    for supervisor in runtime.orchestrator.supervisors.values():
        supervisor.cancel_tick("shutdown (second signal)")


async def _shutdown(runtime: Runtime, server: Any, control: Any, log: Any) -> None:
    log.info("daemon.stopping", grace_s=runtime.settings.orchestrator.shutdown_grace_s)
    server.request_stop()
    await runtime.orchestrator.shutdown(runtime.settings.orchestrator.shutdown_grace_s)
    killed = kill_all()  # a backstop: cancelled ticks already killed their process groups
    if killed:
        log.warning("daemon.killed_leftover_processes", groups=killed)
    with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_RECORD_TIMEOUT_S):
        await control.append("daemon.stopped", actor="daemon", payload={"pid": os.getpid()})
    log.info("daemon.stopped")
