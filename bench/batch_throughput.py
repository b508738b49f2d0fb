#!/usr/bin/env python3
"""Throughput of ``voiceclone batch`` against a loopback server with a fixed latency.

Runs the real CLI as a subprocess (``voiceclone batch ... --json``) for each ``-j`` against the
test suite's contract server (``tests/fakeserver.py``) answering every request after
``--latency`` seconds, optionally behind a token-bucket rate limit that answers 429 with
Retry-After. Prints the lines per second achieved against the ideal
``min(jobs / latency, rate limit)`` and the percentage of it.

Two rates are shown: "batch" uses the ``elapsed_seconds`` the command reports (from the first
line dispatched to the last one settled); "wall" also includes interpreter start-up, imports
and sample preparation, a fixed ~0.3 s that weighs more the faster the run. The batch runs with
``--retries 20`` so that a strict rate limit measures the pace rather than ending the run on
a line that ran out of retries.

    python bench/batch_throughput.py [--lines 200] [--latency 0.2] [--jobs 1 2 4 8]
                                     [--rate-limit 10 --burst 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer  # noqa: E402

SAMPLE = REPO / "examples" / "sample.wav"
TARGET_PERCENT = 90.0


def run_once(server: FakeSyncCloneServer, exe: str, lines: int, jobs: int, workdir: Path) -> dict:
    script = workdir / f"lines-{jobs}.txt"
    script.write_text("".join(f"This is line number {i} of the benchmark.\n" for i in range(lines)))
    outdir = workdir / f"out-{jobs}"
    env = dict(os.environ, VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY,
               VOICECLONE_CONFIG_DIR=str(workdir / "config"))
    server.state.requests.clear()
    started = time.perf_counter()
    proc = subprocess.run(
        [exe, "batch", str(script), "-s", str(SAMPLE), "-d", str(outdir), "-j", str(jobs),
         "--retries", "20", "--json", "--quiet"],
        capture_output=True, text=True, env=env,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"voiceclone batch -j {jobs} failed ({proc.returncode}): {proc.stderr[-800:]}")
    summary = json.loads(proc.stdout)
    summary["wall_seconds"] = wall
    summary["rate_limited"] = sum(1 for r in server.state.requests if r.status == 429)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests per second (0 = none)")
    parser.add_argument("--burst", type=int, default=1, help="requests the rate limit lets through at once")
    args = parser.parse_args()

    exe = shutil.which("voiceclone", path=str(Path(sys.executable).parent)) or shutil.which("voiceclone")
    if exe is None:
        sys.exit("voiceclone is not installed in this environment: pip install -e .")
    server = FakeSyncCloneServer().start()
    server.state.latency = args.latency
    server.state.rate_limit = args.rate_limit
    server.state.rate_limit_burst = args.burst
    limit = f", rate limit {args.rate_limit:g}/s (burst {args.burst})" if args.rate_limit else ""
    print(f"{args.lines} lines, {args.latency * 1000:.0f} ms per request{limit}; "
          f"voiceclone batch run as a subprocess ({os.cpu_count()} CPUs)")
    print(f"{'jobs':>4} {'ideal/s':>8} {'batch/s':>8} {'% ideal':>8} {'wall/s':>8} {'% ideal':>8} {'429s':>5}")
    worst = 100.0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for jobs in args.jobs:
                summary = run_once(server, exe, args.lines, jobs, Path(tmp))
                ideal = jobs / args.latency
                if args.rate_limit:
                    ideal = min(ideal, args.rate_limit)
                batch_rate = summary["done"] / summary["elapsed_seconds"]
                wall_rate = summary["done"] / summary["wall_seconds"]
                percent = 100 * batch_rate / ideal
                worst = min(worst, percent)
                print(f"{jobs:>4} {ideal:>8.2f} {batch_rate:>8.2f} {percent:>7.1f}% "
                      f"{wall_rate:>8.2f} {100 * wall_rate / ideal:>7.1f}% {summary['rate_limited']:>5}")
    finally:
        server.stop()
    verdict = "meets" if worst >= TARGET_PERCENT else "misses"
    print(f"worst: {worst:.1f}% of ideal ({verdict} the {TARGET_PERCENT:.0f}% target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
