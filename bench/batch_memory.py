#!/usr/bin/env python3
"""Peak memory of ``voiceclone batch`` as the number of lines grows.

Runs the real CLI as a subprocess against the test suite's contract server
(``tests/fakeserver.py``, zero latency, so the batch runs as fast as the machine allows) for
inputs of increasing size, and reads each run's peak resident set size from ``os.wait4``
(the kernel's ru_maxrss for exactly that child). The input is streamed, lines are handed to
the workers through a bounded queue and no audio is kept after its file is written, so the
peak should not grow with the number of lines. A 10-line run shows the fixed cost (Python,
numpy, httpx, soundfile). Each size is then run again on the same OUTDIR: that resume pass
loads the manifest (a small record per line) and checks every output instead of speaking.

    python bench/batch_memory.py [--lines 10 1000 10000] [--jobs 2]
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
TARGET_MB = 300.0


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``cmd``; return its peak RSS in MB, exit status and stdout."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return usage.ru_maxrss / 1024, proc.returncode, out.read().decode()  # Linux: KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if sys.platform != "linux":
        sys.exit("this benchmark reads ru_maxrss in KiB, as Linux reports it")

    exe = shutil.which("voiceclone", path=str(Path(sys.executable).parent)) or shutil.which("voiceclone")
    if exe is None:
        sys.exit("voiceclone is not installed in this environment: pip install -e .")
    server = FakeSyncCloneServer().start()
    print(f"voiceclone batch -j {args.jobs} as a subprocess, zero-latency loopback server")
    print(f"{'lines':>7} {'run':>7} {'seconds':>8} {'lines/s':>8} {'peak RSS':>9}")
    peaks = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            env = dict(os.environ, VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY,
                       VOICECLONE_CONFIG_DIR=str(workdir / "config"))
            for lines in args.lines:
                script = workdir / f"lines-{lines}.txt"
                script.write_text("".join(f"Line number {i}, spoken once and never kept.\n" for i in range(lines)))
                outdir = workdir / f"out-{lines}"
                for run in ("speak", "resume"):
                    server.state.requests.clear()  # the server is in this process: keep it small
                    started = time.perf_counter()
                    peak, code, stdout = peak_rss_mb(
                        [exe, "batch", str(script), "-s", str(SAMPLE), "-d", str(outdir),
                         "-j", str(args.jobs), "--json", "--quiet"], env,
                    )
                    seconds = time.perf_counter() - started
                    if code != 0:
                        sys.exit(f"voiceclone batch failed with exit code {code} on {lines} lines")
                    summary = json.loads(stdout)
                    settled = summary["done"] + summary["skipped"]
                    peaks[lines] = max(peaks.get(lines, 0.0), peak)
                    print(f"{lines:>7} {run:>7} {seconds:>8.1f} {settled / seconds:>8.1f} {peak:>6.0f} MB", flush=True)
                shutil.rmtree(outdir)
    finally:
        server.stop()
    low, high = min(args.lines), max(args.lines)
    verdict = "meets" if max(peaks.values()) < TARGET_MB else "misses"
    print(f"{high} lines use {peaks[high] - peaks[low]:+.0f} MB against {low}; "
          f"peak {max(peaks.values()):.0f} MB ({verdict} the < {TARGET_MB:.0f} MB target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
