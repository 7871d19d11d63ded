"""``hydra audit query``'s engine against ``jq`` over a 1,000,000-record stream (see README).

Builds (once, cached in the work dir) a stream of realistic records with
``bulk_append`` (chained, locked, batched fsyncs), then for a few filters runs, each in a
fresh process writing to /dev/null:

* ``python -c 'from hydra.audit import query ...'`` (imports only ``hydra.audit``);
* ``jq -c 'select(...)' <segments>``.

Both outputs are compared (same record count) before timing. Target: >= 3x jq.
The built stream is kept under the work dir for the next run (``--clean`` removes it).

    python -m benchmarks.audit_query [--dir DIR] [--records N] [--runs N] [--quick] [--clean]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks import audit_common
from benchmarks.audit_common import DEFAULT_WORK, MEMORY_FILE_SYSTEMS, file_system_of, verdict
from hydra.audit import BulkEntry, bulk_append, list_streams

STREAM = "loop.bench"
FILTERS = [
    # (label, hydra RecordFilter kwargs as code, jq program)
    (
        "exact, common (~30%)",
        "actions=frozenset({'tick.started'})",
        'select(.action == "tick.started")',
    ),
    (
        "exact, rare (~0.5%)",
        "actions=frozenset({'loop.disabled'})",
        'select(.action == "loop.disabled")',
    ),
    (
        "prefix tick.* (~61%)",
        "actions=frozenset({'tick.*'})",
        'select(.action | startswith("tick."))',
    ),
    ("run id (1 run)", "run='run-000777'", 'select(.run == "run-000777")'),
]
QUERY = """\
import sys
from hydra.audit import RecordFilter, query
flt = RecordFilter({filter})
count = query(sys.argv[1], {stream!r}, flt, out=sys.stdout.buffer)
sys.stdout.buffer.flush()
sys.stderr.write(str(count))
"""


def records(count: int, seed: int = 7) -> Iterator[BulkEntry]:
    rng = random.Random(seed)
    loops = ["health", "triage", "deps", "docs", "flaky", "review", "merge", "costs"]
    for i in range(count):
        run = f"run-{i // 4:06d}"
        roll = rng.random()
        loop = rng.choice(loops)
        if roll < 0.30:
            yield "tick.started", "orchestrator", {"loop": loop, "interval_s": 60}, run
        elif roll < 0.60:
            counts = {"issues": rng.randint(0, 9), "prs": rng.randint(0, 3)}
            duration = round(rng.uniform(1, 9000), 1)
            payload = {"loop": loop, "status": "ok", "duration_ms": duration, "counts": counts}
            yield "tick.finished", "orchestrator", payload, run
        elif roll < 0.61:
            yield "tick.crashed", "orchestrator", {"loop": loop, "error": "RuntimeError: boom"}, run
        elif roll < 0.85:
            argv = ["claude", "-p", "fix the flaky test"]
            seconds = round(rng.uniform(0.1, 300), 2)
            payload = {"source": f"{loop}.agent", "argv": argv, "exit": 0, "seconds": seconds}
            yield "runner.call", f"loop:{loop}", payload, run
        elif roll < 0.995:
            tokens = {"in": rng.randint(100, 90000), "out": rng.randint(10, 9000)}
            usd = round(rng.uniform(0, 2), 4)
            payload = {"source": f"{loop}.agent", "usd": usd, "tokens": tokens}
            yield "cost.recorded", "costs", payload, run
        else:
            yield "loop.disabled", "api", {"loop": loop, "reason": "spending too much"}, None


def build(root: Path, count: int) -> list[Path]:
    existing = {info.name: info for info in list_streams(root)}
    info = existing.get(STREAM)
    if info is not None and info.last_seq == count:
        print(f"reusing {count:,} records in {root / STREAM}")
        return list(info.segments)
    shutil.rmtree(root / STREAM, ignore_errors=True)
    started = time.perf_counter()
    bulk_append(root, STREAM, records(count))
    print(f"built {count:,} records in {time.perf_counter() - started:.1f} s")
    return sorted((root / STREAM).glob("*.jsonl"))


def timed(argv: list[str], runs: int) -> tuple[float, int]:
    """Best wall time of ``runs`` executions (stdout to /dev/null) and its output lines."""
    counted = subprocess.run(argv, capture_output=True, check=True)
    lines = counted.stdout.count(b"\n")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return min(times), lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool (best counts)")
    parser.add_argument("--quick", action="store_true", help="20,000 records, one run")
    parser.add_argument("--clean", action="store_true", help="delete the built stream after")
    parser.add_argument("--allow-tmpfs", action="store_true", help="smoke tests only")
    args = parser.parse_args()
    audit_common.QUICK = args.quick
    count = 20_000 if args.quick else args.records
    runs = 1 if args.quick else args.runs
    root = args.dir.resolve() / f"audit_query-{count}"
    root.mkdir(parents=True, exist_ok=True)
    point, kind = file_system_of(root)
    if kind in MEMORY_FILE_SYSTEMS and not args.allow_tmpfs:
        raise SystemExit(f"{root} is on {kind}: use --dir on a real disk")
    print(f"work dir: {root} ({kind} on {point})")
    segments = build(root, count)
    size = sum(p.stat().st_size for p in segments)
    jq = shutil.which("jq")
    version = (
        subprocess.run([jq, "--version"], capture_output=True, text=True, check=True).stdout.strip()
        if jq
        else "not installed"
    )
    print(f"{count:,} records, {size / 1e6:.0f} MB in {len(segments)} segment(s); jq: {version}")
    env_python = [sys.executable, "-c"]
    print(f"\n{'filter':<22} | {'matches':>9} | {'jq s':>7} | {'hydra s':>7} | {'ratio':>6}")
    ratios = []
    for label, flt, program in FILTERS:
        code = QUERY.format(filter=flt, stream=STREAM)
        hydra, hydra_lines = timed([*env_python, code, str(root)], runs)
        if jq is None:
            print(f"{label:<22} | {hydra_lines:>9} | {'-':>7} | {hydra:>7.2f} | {'-':>6}")
            continue
        jq_time, jq_lines = timed([jq, "-c", program, *map(str, segments)], 1 if runs < 3 else 2)
        if jq_lines != hydra_lines:
            raise SystemExit(f"{label}: jq found {jq_lines} records, hydra {hydra_lines}")
        ratios.append(jq_time / hydra)
        ratio = jq_time / hydra
        print(f"{label:<22} | {hydra_lines:>9} | {jq_time:>7.2f} | {hydra:>7.2f} | {ratio:>5.1f}x")
    if ratios:
        worst = min(ratios)
        median = statistics.median(ratios)
        target = verdict(worst, 3.0)
        print(f"\nworst ratio {worst:.1f}x (median {median:.1f}x)   target >= 3x: {target}")
    if args.clean:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
