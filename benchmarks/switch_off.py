"""Switch-off through the daemon: ``PUT /api/loops/<name>`` → in-flight tick cancelled, group gone.

The daemon-level version of ``benchmarks/switch_off_kill.py``. The real ``hydra run`` runs as
a subprocess with one third-party loop plugin (a module plus a ``*.dist-info`` on
``PYTHONPATH``, discovered through the ``hydra.loops`` entry point like any installed plugin).
Each tick of that loop runs one sandbox scenario through the world's SandboxPort (the real
``ShellSandbox`` on the daemon's ``Runner``): a shell that forks 3 grandchildren, writes its
pid to a file and waits.

Each trial waits until that tree is up (leader + 3 grandchildren in the leader's process
group), takes the time, sends ``PUT /api/loops/<name>`` ``{"enabled": false}`` over HTTP and
measures until both the process group is gone (``killpg(pgid, 0)`` → ESRCH: every member
dead and reaped) and ``tick.cancelled`` for that tick is in the loop's audit stream (read
from the file as it grows). Then the loop is switched back on, which ticks it at once, for
the next trial. Two trees, N trials each: "polite" (default SIGTERM handling: the runner's
SIGTERM ends it) and "stubborn" (the whole tree ignores SIGTERM, so the runner's cancellation
path runs in full: SIGTERM, its ``cancel_grace_s`` of 0.1 s, SIGKILL).

Baseline, same run, identical tree: a bare ``os.killpg(SIGKILL)`` + ``waitpid`` (+ reaping the
orphans by group), no daemon, no HTTP, no event loop.

Target: p99 ≤ 250 ms for either tree (issue 2, Figures). The work dir (the daemon's data dir,
whose fsyncs are part of the figure) must not be a memory file system.

    python -m benchmarks.switch_off [--trials N] [--quick] [--strict] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from tests.helpers.daemon import daemon
from tests.helpers.plugins import make_plugin

from benchmarks.audit_common import cleanup, work_dir
from hydra.runner import enable_subreaper

TARGET_P99_S = 0.250
LOOP = "bench_switch_off"
STUBBORN_FLAG = "stubborn"
TREE_KINDS = ("polite", "stubborn")
TRIAL_TIMEOUT_S = 10.0
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
PLUGIN = """
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hydra.sdk import Loop, TickResult
from ports import Scenario


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str = "true"
    workdir: str = "."


class SwitchOffBenchLoop(Loop[Options]):
    name = "{name}"
    description = "Runs one sandbox scenario that forks 3 grandchildren and waits (benchmark)."
    area = "benchmark"
    default_interval_s = 3600.0
    interval_bounds = (1.0, 86400.0)
    ports = ("sandbox",)
    Options = Options
    default_timeout_s = 3600.0

    async def tick(self, ctx):
        ran = 0
        for name in ctx.repos:
            async with ctx.repo(name) as repo:
                scenario = Scenario(name="tree", command=ctx.options.command, timeout_s=600)
                done = await repo.sandbox.run_scenarios([scenario], workdir=ctx.options.workdir)
                ran += len(done)
        return TickResult(status="ok", counts={{"scenarios": ran}})
"""


def tree_command(pidfile: Path, stubborn_flag: Path) -> str:
    """Leader + 3 grandchildren; the leader's pid (= its group id) is published last. While
    ``stubborn_flag`` exists the whole tree ignores SIGTERM (an ignored signal stays ignored
    in forked children and across exec), so only the runner's SIGKILL after its grace ends it."""
    flag, done, part = (shlex.quote(str(p)) for p in (stubborn_flag, pidfile, f"{pidfile}.part"))
    return (
        f"if [ -e {flag} ]; then trap '' TERM; fi; "
        f"for i in 1 2 3; do sleep 600 & done; echo $$ > {part} && mv {part} {done}; wait"
    )


def ignores_term(pid: int) -> bool:
    """Whether ``pid`` ignores SIGTERM (its ``SigIgn`` mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def group_size(pgid: int) -> int:
    size = 0
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                size += 1
        except (ProcessLookupError, psutil.Error):
            continue
    return size


def wait_until(probe: Callable[[], Any], what: str, timeout: float = TRIAL_TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(0.001)


TREES: set[int] = set()
"""Every tree's group id seen, for the last-resort cleanup when a run fails."""


def wait_tree(pidfile: Path, *, stubborn: bool | None) -> int:
    """The leader's pid once the whole tree (4 processes) is up (and, unless ``stubborn`` is
    ``None``, checked to ignore SIGTERM or not)."""
    pgid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), "the tree"))
    TREES.add(pgid)
    wait_until(lambda: group_size(pgid) == 4, f"4 processes in group {pgid}")
    if stubborn is not None and ignores_term(pgid) != stubborn:
        msg = f"tree {pgid}: expected {'a stubborn' if stubborn else 'a polite'} tree"
        raise AssertionError(msg)
    return pgid


class StreamTail:
    """New records of one audit stream's active segment, read as the file grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.pending = b""
        self.records: list[dict[str, Any]] = []

    def poll(self) -> None:
        if self.fd is None:
            if not self.path.exists():
                return
            self.fd = os.open(self.path, os.O_RDONLY)
        while chunk := os.read(self.fd, 1 << 16):
            self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        self.records += [json.loads(line) for line in lines if line]

    def find(self, action: str, run: str | None = None) -> dict[str, Any] | None:
        self.poll()
        for record in reversed(self.records):
            if record["action"] == action and (run is None or record.get("run") == run):
                return record
        return None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def daemon_trial(
    http: httpx.Client,
    tail: StreamTail,
    pidfile: Path,
    number: int,
    *,
    stubborn: bool | None,
    again: bool = True,
) -> tuple[float, float, float]:
    """One switch-off; returns seconds until the HTTP answer, the group gone, the record.
    With ``again``, the loop is switched back on afterwards (its next tree starts at once)."""
    pgid = wait_tree(pidfile, stubborn=stubborn)
    started = wait_until(lambda: tail.find("tick.started"), "tick.started")
    run = started["run"]
    t0 = time.perf_counter()
    response = http.put(
        f"/api/loops/{LOOP}", json={"enabled": False, "reason": f"benchmark trial {number}"}
    )
    answered = time.perf_counter()
    response.raise_for_status()
    gone_at = recorded_at = None
    while gone_at is None or recorded_at is None:
        now = time.perf_counter()
        if gone_at is None and not group_exists(pgid):
            gone_at = now
        if recorded_at is None and tail.find("tick.cancelled", run) is not None:
            recorded_at = now
        if now - t0 > TRIAL_TIMEOUT_S:
            msg = f"trial {number}: group {pgid} or tick.cancelled of {run} still missing"
            raise TimeoutError(msg)
        time.sleep(0.0005)
    pidfile.unlink()
    if again:
        response = http.put(f"/api/loops/{LOOP}", json={"enabled": True, "reason": "next trial"})
        response.raise_for_status()  # switching on ticks the loop at once: the next tree starts
    return answered - t0, gone_at - t0, recorded_at - t0


def baseline_trial(command: str, pidfile: Path) -> float:
    """The same (stubborn) tree killed with a bare SIGKILL, outside any daemon."""
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen(
        ["sh", "-c", command], start_new_session=True, stdin=quiet, stdout=quiet, stderr=quiet
    )
    try:
        pgid = wait_tree(pidfile, stubborn=True)  # the flag is still there: no matter for KILL
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert pgid == proc.pid
    t0 = time.perf_counter()
    os.killpg(pgid, signal.SIGKILL)
    proc.wait()
    # The orphaned grandchildren are ours now (subreaper): block until each is reaped.
    try:
        while True:
            os.waitid(os.P_PGID, pgid, os.WEXITED)
    except ChildProcessError:
        pass
    elapsed = time.perf_counter() - t0
    if group_exists(pgid):
        msg = f"baseline group {pgid} survived"
        raise AssertionError(msg)
    pidfile.unlink()
    return elapsed


def write_setup(root: Path) -> tuple[str, Path, Path, dict[str, str]]:
    """Plugin, repository and hydra.toml under ``root``; returns (tree command, pidfile,
    data dir, the daemon's extra environment)."""
    plugin = make_plugin(
        root / "plugin",
        dist="hydra_bench_switch_off",
        modules={"bench_switch_off_loop": PLUGIN.format(name=LOOP)},
        entry_points={LOOP: "bench_switch_off_loop:SwitchOffBenchLoop"},
    )
    repo = root / "repo"
    repo.mkdir()
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    pidfile = root / "tree.pid"
    command = tree_command(pidfile, root / STUBBORN_FLAG)
    builtin = ("health", "preflight", "principles_audit", "review_advisor", "sandbox_fixer")
    lines = [
        'data_dir = "data"',
        "[orchestrator]",
        "first_tick_spread_s = 0.0",
        "shutdown_grace_s = 1.0",
        "[agent]",
        'provider = "none"',
        "[repos.bench]",
        f"path = {json.dumps(str(repo))}",
        *(f"[loops.{name}]\nenabled = false" for name in builtin),
        f"[loops.{LOOP}]",
        f"command = {json.dumps(command)}",
        f"workdir = {json.dumps(str(root))}",
    ]
    (root / "hydra.toml").write_text("\n".join(lines) + "\n")
    return command, pidfile, root / "data", {"PYTHONPATH": str(plugin)}


def row(label: str, samples: list[float]) -> tuple[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    p50, p99 = statistics.median(samples), cuts[98]
    text = f"{label:<46}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{max(samples) * 1e3:>9.2f}"
    return text, p99


def run(trials: int, directory: Path | None, *, keep: bool) -> bool:
    enable_subreaper()
    samples: dict[str, dict[str, list[float]]] = {
        kind: {"answered": [], "gone": [], "recorded": [], "total": []} for kind in TREE_KINDS
    }
    with cleanup(work_dir(directory, "switch_off"), keep=keep) as root:
        command, pidfile, data, env = write_setup(root)
        with daemon(root, env=env, data_dir=data) as d:
            tail = StreamTail(data / "audit" / LOOP / "00000001.jsonl")
            try:
                with d.client(actor="api") as http:
                    for kind in TREE_KINDS:
                        stubborn = kind == "stubborn"
                        if stubborn:
                            (root / STUBBORN_FLAG).touch()
                        # Warm-up: ends the tree started by the start-up tick or before the
                        # flag changed (it may or may not have seen it); the loop comes back
                        # on with the new kind.
                        daemon_trial(http, tail, pidfile, 0, stubborn=None)
                        for number in range(1, trials + 1):
                            last = stubborn and number == trials
                            a, g, r = daemon_trial(
                                http, tail, pidfile, number, stubborn=stubborn, again=not last
                            )
                            kept = samples[kind]
                            kept["answered"].append(a)
                            kept["gone"].append(g)
                            kept["recorded"].append(r)
                            kept["total"].append(max(g, r))
            finally:
                tail.close()
            code = d.stop()
        base = [baseline_trial(command, pidfile) for _ in range(trials)]

    rows: list[str] = []
    worst = 0.0
    for kind in TREE_KINDS:
        kept = samples[kind]
        rows.append(row(f"{kind}: PUT answered (HTTP round trip)", kept["answered"])[0])
        rows.append(row(f"{kind}: group gone (killpg -> ESRCH)", kept["gone"])[0])
        rows.append(row(f"{kind}: tick.cancelled in the stream", kept["recorded"])[0])
        text, p99 = row(f"{kind}: switch-off (both of the above)", kept["total"])
        rows.append(text)
        worst = max(worst, p99)
    base_row, base_p99 = row("baseline: killpg(SIGKILL) + waitpid", base)
    rows.append(base_row)
    zombies = [c.pid for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    print("switch-off through the daemon -> in-flight tick cancelled, its process group gone")
    print(f"N={trials} trials per tree; plugin loop {LOOP!r}: one ShellSandbox scenario,")
    print("leader + 3 grandchildren; the stubborn tree ignores SIGTERM (only SIGKILL ends it)")
    print(f"{'':<46}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for text in rows:
        print(text)
    print(f"ratio worst switch-off p99 / baseline p99: {worst / base_p99:.1f}x")
    verdict = "PASS" if worst <= TARGET_P99_S else "FAIL"
    print(
        f"target: switch-off p99 <= {TARGET_P99_S * 1e3:.0f} ms -> {verdict} ({worst * 1e3:.1f} ms)"
    )
    print(f"daemon exit code: {code}; zombie children left: {len(zombies)}")
    return worst <= TARGET_P99_S and code == 0 and not zombies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="5 trials: a smoke test")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--dir", type=Path, help="work dir (default benchmarks/.work; not tmpfs)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (daemon logs)")
    args = parser.parse_args(argv)
    trials = 5 if args.quick else args.trials
    if trials < 2:
        parser.error("--trials must be at least 2")
    try:
        ok = run(trials, args.dir, keep=args.keep)
    finally:
        for pgid in TREES:  # only after a failure can one of our trees still be there
            if group_exists(pgid):
                os.killpg(pgid, signal.SIGKILL)
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
