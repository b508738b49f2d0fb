#!/usr/bin/env python3
"""Start-up cost of ``voiceclone --help`` against the Typer framework's own floor.

The floor is the ``--help`` of a one-command Typer app run by the same interpreter, so the
ratio isolates what voiceclone adds (its imports and app construction). Runs are interleaved
and the best of N is kept, which is robust on a noisy machine.

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


if __name__ == "__main__":
    app()
'''

GOAL, LIMIT = 1.2, 1.5


def best_time(cmd: list[str], runs: int, results: dict[str, list[float]], key: str) -> None:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    results.setdefault(key, []).append(elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    exe = shutil.which("voiceclone", path=str(Path(sys.executable).parent)) or shutil.which("voiceclone")
    if exe is None:
        sys.exit("voiceclone is not installed in this environment: pip install -e .")
    with tempfile.TemporaryDirectory() as tmp:
        floor = Path(tmp) / "floor_app.py"
        floor.write_text(FLOOR_APP)
        commands = {
            "typer floor (--help)": [sys.executable, str(floor), "--help"],
            "voiceclone --help": [exe, "--help"],
            "voiceclone say --help": [exe, "say", "--help"],
        }
        results: dict[str, list[float]] = {}
        for cmd in commands.values():  # warm the file cache once
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(args.runs):
            for key, cmd in commands.items():  # interleaved: load drifts hit all alike
                best_time(cmd, args.runs, results, key)

    floor_best = min(results["typer floor (--help)"])
    print(f"{'command':<26}{'best ms':>10}{'median ms':>12}{'ratio':>8}")
    worst = 0.0
    for key, times in results.items():
        times.sort()
        ratio = times[0] / floor_best
        if key != "typer floor (--help)":
            worst = max(worst, ratio)
        print(f"{key:<26}{times[0] * 1000:>10.1f}{times[len(times) // 2] * 1000:>12.1f}{ratio:>8.2f}")
    verdict = "meets goal" if worst <= GOAL else "within limit" if worst <= LIMIT else "OVER LIMIT"
    print(f"worst ratio {worst:.2f} (goal <= {GOAL}, limit <= {LIMIT}): {verdict}")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
