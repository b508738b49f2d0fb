#!/usr/bin/env python3
"""Time to first audio (and to last) on stdout, remote and local.

Remote: a loopback server (the tests' contract server) answers every request after a fixed
latency L; a 5-chunk text is spoken with ``-o -``. From process start we time the first byte
and the last byte on stdout. "startup" is the first-byte time with L = 0 (imports, sample
checks, one request); the target is first audio <= L + startup + 100 ms, and a total close
to 5 L / min(prefetch, 5) plus that overhead.

Local: the same text with ``--local`` and a cached voice profile (one warm-up run first);
target: first audio <= 1.0 s.

    python bench/ttfa.py [--latency 0.5] [--runs 3] [--skip-local]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer  # noqa: E402

SAMPLE = REPO / "examples" / "sample.wav"
SENTENCE = "This sentence is one of many in a long passage that the benchmark reads aloud. "
TEXT = (SENTENCE * 11 + "\n\n") * 5  # five paragraphs of ~880 characters: five 1000-char chunks


def exe() -> str:
    found = shutil.which("voiceclone", path=str(Path(sys.executable).parent)) or shutil.which("voiceclone")
    if not found:
        sys.exit("voiceclone is not installed in this environment: pip install -e .")
    return found


def time_run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds to the first stdout byte, to EOF, and the byte count."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.read(1)
    first_at = time.perf_counter() - start
    rest = proc.stdout.read()
    done_at = time.perf_counter() - start
    proc.wait()
    if proc.returncode != 0 or not first:
        sys.exit(f"run failed ({proc.returncode}): {proc.stderr.read().decode()[-400:]}")
    return first_at, done_at, 1 + len(rest)


def best(runs: list[tuple[float, float, int]]) -> tuple[float, float]:
    return min(r[0] for r in runs), statistics.median(r[1] for r in runs)


def remote(latency: float, prefetch_values: list[int], runs: int) -> bool:
    server = FakeSyncCloneServer().start()
    env = dict(os.environ, VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY)
    base = [exe(), "say", "-s", str(SAMPLE), TEXT, "-o", "-", "--quiet"]
    ok = True
    try:
        server.state.latency = 0.0
        startup, _ = best([time_run(base, env) for _ in range(runs)])
        print(f"remote: startup (first audio with L=0): {startup * 1000:.0f} ms")
        print(f"{'L ms':>6} {'prefetch':>8} {'first ms':>9} {'target':>8} {'total ms':>9} {'ideal':>8} {'chunks':>6}")
        server.state.latency = latency
        for prefetch in prefetch_values:
            server.state.requests.clear()
            results = [time_run(base + ["--prefetch", str(prefetch)], env) for _ in range(runs)]
            chunks = len(server.requests) // runs
            first, total = best(results)
            target = latency + startup + 0.1
            ideal = chunks * latency / min(prefetch, chunks) + startup
            ok &= first <= target
            print(f"{latency * 1000:>6.0f} {prefetch:>8} {first * 1000:>9.0f} {target * 1000:>8.0f} "
                  f"{total * 1000:>9.0f} {ideal * 1000:>8.0f} {chunks:>6}")
    finally:
        server.stop()
    return ok


def local(runs: int) -> bool:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, VOICECLONE_CACHE_DIR=cache)
        argv = [exe(), "say", "--local", "-s", str(SAMPLE), TEXT, "-o", "-", "--quiet"]
        cold_first, cold_total, _ = time_run(argv, env)  # analyses the sample, fills the cache
        results = [time_run(argv, env) for _ in range(runs)]
    first, total = best(results)
    audio_seconds = (results[0][2] - 44) / 2 / 22050
    print(f"local: first audio {first * 1000:.0f} ms with a cached profile "
          f"(first run, analysing the sample: {cold_first * 1000:.0f} ms); target <= 1000 ms")
    print(f"local: total {total:.1f} s for {audio_seconds:.1f} s of audio (RTF {total / audio_seconds:.2f}, "
          f"process start included)")
    return first <= 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    ok = remote(args.latency, [1, 2, 5], args.runs)
    if not args.skip_local:
        ok &= local(args.runs)
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
