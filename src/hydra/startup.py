"""Start-up checks and readers of the daemon: damaged streams, replay records, the world.

A damaged ``control`` stream refuses the start (the kill-switches could neither be replayed
nor audited), and so does a damaged ``costs`` stream (every runner call records its cost
there). A damaged loop stream stops only that loop; a damaged ``changes`` or ``escalations``
stream is reported. Every damage is listed in :attr:`StreamCheck.problems`,
which ``/healthz`` shows (503, degraded) until an operator repairs the stream.

Before anything is opened, the temp files that killed writers left beside the state files are
swept (:func:`sweep_state_temps`); a failure to sweep is logged and never stops the start.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from hydra.audit import DamageReport, iter_records, last_record
from hydra.costs import COST_ACTION, CostLedger
from hydra.fatal import FatalSignal
from hydra.loop_state import LoopState
from hydra.orchestrator import Orchestrator
from hydra.repos import ManagedRepo
from hydra.runner import Runner
from hydra.sdk import AuditSink, current_tick
from hydra.settings import HydraSettings
from hydra.statefile import StateDir, Sweep, sweep_stale_temps
from hydra.switches import SWITCH_ACTIONS
from hydra.token import token_path
from ports import World

CONTROL = "control"


class StartupError(Exception):
    """The daemon cannot start; one line for the operator (``hydra run`` exits with 2)."""


def repair_hint(stream: str) -> str:
    return (
        f"inspect it with `hydra audit verify {stream}`, then run "
        f"`hydra audit repair {stream} --force` with no daemon running"
    )


def _where(damage: DamageReport) -> str:
    return f"{damage.segment.name} line {damage.line} (byte {damage.offset}): {damage.reason}"


def refuse_damaged(stream: Any) -> None:
    """Raise :class:`StartupError` naming the stream and the fix when ``stream`` is damaged.

    For the streams nothing can run without: ``control`` (every switch) and ``costs`` (every
    runner call records its cost there, so every loop would fail after paying for its work).
    """
    damage: DamageReport | None = stream.damage
    if damage is not None:
        raise StartupError(
            f"audit stream {stream.name!r} is damaged at {_where(damage)}; refusing to start: "
            f"{repair_hint(stream.name)}"
        )


@dataclass
class StreamCheck:
    problems: list[str] = field(default_factory=list)
    """One line per damaged stream, for ``/healthz`` and the log."""
    damaged_loops: dict[str, str] = field(default_factory=dict)
    """Loop name -> why it cannot run."""


def check_streams(others: Mapping[str, Any], loop_sinks: Mapping[str, Any]) -> StreamCheck:
    """Damage of the other opened streams (``control`` and ``costs``: :func:`refuse_damaged`)."""
    check = StreamCheck()
    for name, stream in {**others, **loop_sinks}.items():
        damage: DamageReport | None = stream.damage
        if damage is None:
            continue
        check.problems.append(
            f"audit stream {name!r} is damaged at {_where(damage)}: {repair_hint(name)}"
        )
        if name in loop_sinks:
            check.damaged_loops[name] = (
                f"its audit stream is damaged; {repair_hint(name)} and restart"
            )
    return check


def stop_damaged_loops(orchestrator: Orchestrator, damaged: Mapping[str, str]) -> None:
    """Mark each loop whose stream is damaged as stopped before it is scheduled.

    Its supervisor never starts a tick while stopped (a tick could not be recorded), and the
    API reports the state with its reason.
    """
    for name, reason in damaged.items():
        supervisor = orchestrator.supervisors.get(name)
        if supervisor is not None:
            supervisor.status.state = LoopState.STOPPED
            supervisor.status.stop_reason = reason


def state_dirs(data_dir: Path, repos: Iterable[str]) -> list[StateDir]:
    """Every directory the daemon replaces files in through temp files: the data dir itself
    (``daemon.json``), ``state/`` (switches, escalations), ``state/loops/`` (each loop's state)
    and those of the adapters (the inbox, worktree records, hooks) of each repository in
    ``repos`` and of each other one that has directories under the data dir (unconfigured now,
    or filed into by ``hydra issue``), of those only the ones that exist. No duplicates."""
    from hydra.adapters.worlds import repo_state_dirs, stored_repos

    dirs = [
        StateDir(data_dir),
        StateDir(data_dir / "state"),
        StateDir(data_dir / "state" / "loops"),
    ]
    configured = list(dict.fromkeys(repos))
    for repo in configured:
        dirs += repo_state_dirs(data_dir, repo)
    for repo in stored_repos(data_dir):
        if repo not in configured:
            dirs += [d for d in repo_state_dirs(data_dir, repo) if _may_exist(d.path)]
    return dirs


def _may_exist(path: Path) -> bool:
    """False only when ``path`` surely does not exist; one that cannot be looked at is kept,
    so that the sweep reports why it cannot sweep it."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


async def sweep_state_temps(
    dirs: Iterable[StateDir], log: Any, *, unlink: Callable[[Path], None] = os.unlink
) -> Sweep:
    """The daemon's start-up sweep: remove the temp files dead writers left in ``dirs`` (off
    the event loop), one ``state.temp_swept`` log line each.

    Call it with the data dir's lock held and before any writer of this process runs: a temp
    file with this process's pid was then left by an earlier incarnation with the same pid
    (``own_pid_is_stale``); each directory's minimum age protects writers without the lock.
    A file that cannot be removed, and a directory that cannot be read, are logged
    (``state.temp_sweep_failed``, with ``path`` or ``directory``), listed in
    :attr:`Sweep.failed` and passed. ``unlink`` as in :func:`sweep_stale_temps`."""
    done = Sweep([], [])
    for directory in dirs:
        sweep = functools.partial(
            sweep_stale_temps,
            directory.path,
            own_pid_is_stale=True,
            min_age_s=directory.min_age_s,
            unlink=unlink,
        )
        try:
            swept = await anyio.to_thread.run_sync(sweep)
        except OSError as exc:
            log.warning("state.temp_sweep_failed", directory=str(directory.path), error=str(exc))
            done.failed.append((directory.path, str(exc)))
            continue
        for path in swept.removed:
            log.info("state.temp_swept", path=str(path))
        for path, error in swept.failed:
            log.warning("state.temp_sweep_failed", path=str(path), error=error)
        done.removed.extend(swept.removed)
        done.failed.extend(swept.failed)
    return done


def control_records(audit_root: Path) -> list[dict[str, Any]]:
    return [r for r in iter_records(audit_root, CONTROL) if r.get("action") in SWITCH_ACTIONS]


def cost_records(audit_root: Path) -> list[dict[str, Any]]:
    return [r for r in iter_records(audit_root, "costs") if r.get("action") == COST_ACTION]


def last_tick(audit_root: Path, name: str) -> dict[str, Any] | None:
    return last_record(audit_root, name, lambda r: str(r.get("action", "")).startswith("tick."))


def build_world(
    settings: HydraSettings,
    data_dir: Path,
    *,
    repos: list[ManagedRepo],
    runner: Runner,
    ledger: CostLedger,
    changes: AuditSink,
    fatal: FatalSignal,
) -> World:
    from hydra.adapters.worlds import WorldError
    from hydra.adapters.worlds import build_world as build

    async def on_change_event(action: str, payload: dict[str, object]) -> None:
        tick = current_tick()
        actor = f"loop:{tick.loop}" if tick else "daemon"
        await changes.append(
            action, actor=actor, payload=payload, run=tick.run_id if tick else None
        )

    try:
        return build(
            settings,
            data_dir,
            repos,
            runner=runner,
            cost_sink=ledger.runner_sink(),
            on_change_event=on_change_event,
            fatal=fatal,
        )
    except WorldError as exc:
        raise StartupError(f"config error: {exc}") from None


def announce(url: str, token: str, *, generated: bool, settings: HydraSettings) -> None:
    """The ready line on stdout (not through the log, which redacts the token).

    The link carries the token only when it was generated just now (the operator's first sight
    of it) or, for the stored token, when stdout is a terminal. Under a service manager stdout
    is a log, and a token the operator configured is theirs already: the line then says where
    the token is instead.
    """
    configured = settings.api_token is not None
    where = (
        "HYDRA_API_TOKEN or api_token in the config"
        if configured
        else str(token_path(settings.data_dir))
    )
    if generated:
        line = f"{url}#token={token} (new token, stored in {where} with mode 0600)"
    elif sys.stdout.isatty() and not configured:
        line = f"{url}#token={token}"
    else:
        line = f"{url} (token: {where})"
    print(f"Hydra is running. Dashboard: {line}", flush=True)  # noqa: T201
