#!/usr/bin/env python3
"""The local engine with Piper's network on one thread or on every core, measured in turn.

Why this exists: ``bench/serve_load.py`` asks for 2 clients to reach 1.4x the throughput of 1
on 2 cores, and one request alone already keeps ~1.6 cores busy. The obvious lever is the
network's thread count, which ONNX Runtime fixes per session. This script loads the voice
twice (one thread; ONNX Runtime's default, one per core), and, alternating the two so that
the machine's drift hits both alike, times the same request as the server makes it
(``speech.speak`` with one chunk of look-ahead): alone (wall time, time to first audio, CPU)
and two at once (requests/s, CPU). The last column is what the serve benchmark's ratio can
reach at best with each setting. Both make the same samples (tested). Bounded.

    python bench/local_threads.py [--rounds 5] [--text "..."]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SAMPLE = REPO / "examples" / "sample.wav"
TEXT = ("The quick brown fox jumps over the lazy dog, and then it runs far away "
        "into the quiet green forest behind the old farm house.")  # bench/serve_load.py's


class FirstAudioSink:
    """Discards the audio; remembers when the first of it arrived."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None

    def rate_for(self, rate): return rate
    def open(self, rate): pass
    def close(self): pass
    def abort(self): pass

    def write(self, samples) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args()
    if args.rounds < 1 or not args.text.strip():
        parser.error("--rounds must be at least 1 and --text must have words")

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("CONFIG", "DATA"):
            os.environ[f"VOICECLONE_{name}_DIR"] = str(Path(tmp) / name.lower())
        os.environ.setdefault("VOICECLONE_CACHE_DIR", str(Path(tmp) / "cache"))
        measure(args.text, args.rounds)


def measure(text: str, rounds: int) -> None:
    import voiceclone_cli.engines.local.engine as local
    from voiceclone_cli.engines.local.cloner import LocalCloner
    from voiceclone_cli.engines.local.profile_cache import models_dir
    from voiceclone_cli.engines.local.synth import PiperSynth
    from voiceclone_cli.prepare.sample import prepare_sample
    from voiceclone_cli.speech import speak

    engine = local.LocalEngine(use_cache=False)
    voice = engine.prepare_voice(prepare_sample(SAMPLE))
    cloners = {threads: LocalCloner(PiperSynth.load(cache_dir=models_dir(), threads=threads))
               for threads in (0, 1)}

    def one_request() -> FirstAudioSink:
        sink = FirstAudioSink()
        speak(text, engine, voice, sink, prefetch=1)
        return sink

    figures = {threads: {"alone": [], "first": [], "cpu alone": [], "two": [], "cpu two": []}
               for threads in cloners}
    for round_ in range(rounds):
        for threads, cloner in cloners.items():
            local._cloner = cloner  # what shared_cloner() hands every chunk from now on
            one_request()  # first-call costs of this session
            f = figures[threads]
            for _ in range(2):
                cpu = time.process_time()
                sink = one_request()
                f["alone"].append(time.perf_counter() - sink.started)
                f["first"].append(sink.first or 0.0)
                f["cpu alone"].append(time.process_time() - cpu)
            cpu, wall = time.process_time(), time.perf_counter()
            workers = [threading.Thread(target=lambda: (one_request(), one_request())) for _ in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            f["two"].append(4 / (time.perf_counter() - wall))
            f["cpu two"].append((time.process_time() - cpu) / 4)
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)

    med = statistics.median
    print(f"{len(text)} characters, {rounds} rounds, medians; {os.cpu_count()} cores")
    print(f"{'network threads':>16} | {'alone s':>7} {'first audio s':>13} {'CPU s':>6} | "
          f"{'2 at once req/s':>15} {'CPU s':>6} | 2 at once / 1 alone")
    for threads, f in figures.items():
        alone = med(f["alone"])
        label = "1" if threads == 1 else "every core"
        print(f"{label:>16} | {alone:7.3f} {med(f['first']):13.3f} {med(f['cpu alone']):6.2f} | "
              f"{med(f['two']):15.3f} {med(f['cpu two']):6.2f} | {med(f['two']) * alone:.2f}x")
    every, one = figures[0], figures[1]
    print(f"one thread vs every core: alone {med(one['alone']) / med(every['alone']) - 1:+.1%} time, "
          f"two at once {med(one['two']) / med(every['two']) - 1:+.1%} throughput")


if __name__ == "__main__":
    main()
