"""Switch-off latency of the runner: cancel → the child's whole process group is gone.

Each trial starts a runner call of a child that forks 3 grandchildren and sleeps,
waits until the tree is up, cancels the awaiting scope after a random short delay and
measures until the cancellation has propagated back to the caller, at which point the
group must already be gone (``killpg(pgid, 0)`` → ESRCH, which also means every member
was reaped). Two trees: "polite" (default SIGTERM handling) and "stubborn" (everything
ignores SIGTERM, so the runner's SIGTERM → grace → SIGKILL path is taken in full).

Baseline, same run, identical tree: a bare ``os.killpg(SIGKILL)`` + ``waitpid`` (+ reaping
the orphans by group) with no event loop in between.

Target: runner p99 ≤ 250 ms. This measures the runner's part only; the end-to-end
figure through the daemon's kill-switch is measured elsewhere.

    python -m benchmarks.switch_off_kill [--trials N] [--quick] [--strict]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import psutil

from hydra.runner import Runner, StdoutLine, enable_subreaper

TARGET_P99_S = 0.250
TREE = """\
#!/bin/sh
{trap}
for i in 1 2 3; do ({trap} exec sleep 60) & done
echo "leader $$"
wait
"""


class NullSink:
    async def record(self, **_: object) -> None:
        return None


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def write_tree(directory: Path, name: str, *, stubborn: bool) -> str:
    path = directory / name
    path.write_text(TREE.format(trap="trap '' TERM;" if stubborn else ""))
    path.chmod(0o755)
    return str(path)


async def runner_trial(runner: Runner, script: str, delay: float) -> float:
    ready = anyio.Event()
    pgids: list[int] = []

    async def hook(line: StdoutLine) -> None:
        if line.startswith(b"leader"):
            pgids.append(int(line.split()[1]))
            ready.set()

    scope = anyio.CancelScope()

    async def call() -> None:
        with scope:
            await runner.run([script], source="bench:switch_off", timeout=60, on_stdout_line=hook)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await ready.wait()
            await anyio.sleep(delay)
            started = time.perf_counter()
            scope.cancel()
    elapsed = time.perf_counter() - started
    if group_exists(pgids[0]):
        msg = f"process group {pgids[0]} survived the cancellation"
        raise AssertionError(msg)
    return elapsed


def baseline_trial(script: str, delay: float) -> float:
    proc = subprocess.Popen([script], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(b"leader"), line
    time.sleep(delay)
    started = time.perf_counter()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # The orphaned grandchildren are ours now (subreaper): block until each is reaped.
    try:
        while True:
            os.waitid(os.P_PGID, proc.pid, os.WEXITED)
    except ChildProcessError:
        pass
    elapsed = time.perf_counter() - started
    if group_exists(proc.pid):
        msg = f"baseline group {proc.pid} survived"
        raise AssertionError(msg)
    proc.stdout.close()
    return elapsed


def summary(label: str, samples: list[float]) -> tuple[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    p50, p99 = statistics.median(samples), cuts[98]
    row = f"{label:<34}{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{max(samples) * 1e3:>9.2f}"
    return row, p99


async def main_async(trials: int, seed: int) -> bool:
    rng = random.Random(seed)
    runner = Runner(cost_sink=NullSink())
    enable_subreaper()
    rows: list[str] = []
    runner_p99: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hydra-bench-") as tmp:
        trees = {
            "polite": write_tree(Path(tmp), "polite.sh", stubborn=False),
            "stubborn": write_tree(Path(tmp), "stubborn.sh", stubborn=True),
        }
        for name, script in trees.items():
            await runner_trial(runner, script, 0.0)  # warm-up
            samples = [
                await runner_trial(runner, script, rng.uniform(0.0, 0.02)) for _ in range(trials)
            ]
            row, runner_p99[name] = summary(f"runner cancel, {name} tree", samples)
            rows.append(row)
        base = [baseline_trial(trees["polite"], rng.uniform(0.0, 0.02)) for _ in range(trials)]
        base_row, base_p99 = summary("baseline killpg(SIGKILL)+waitpid", base)
        rows.append(base_row)

    zombies = [c.pid for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    worst = max(runner_p99.values())
    print(f"switch-off → process group gone; N={trials} trials per row; leader + 3 grandchildren")
    print(f"{'':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for row in rows:
        print(row)
    for name, p99 in runner_p99.items():
        print(f"ratio p99 runner ({name}) / baseline: {p99 / base_p99:.1f}x")
    verdict = "PASS" if worst <= TARGET_P99_S else "FAIL"
    print(f"target: runner p99 <= {TARGET_P99_S * 1e3:.0f} ms -> {verdict} ({worst * 1e3:.1f} ms)")
    print(f"zombie children left: {len(zombies)}")
    return worst <= TARGET_P99_S and not zombies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10 trials: a smoke test")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    trials = 10 if args.quick else args.trials
    ok = anyio.run(main_async, trials, args.seed)
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
