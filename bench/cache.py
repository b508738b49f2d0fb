#!/usr/bin/env python3
"""What the response cache saves, and what it costs.

1. Re-run after a kill: a 20-chunk ``say`` against a loopback server answering after a fixed
   latency (300 ms) is SIGKILLed once 10 answers are in the cache, then run again with the same
   command. Printed: the requests the re-run sent (target: 10, the unanswered chunks) and its
   wall time, against a re-run with ``--no-cache`` (all 20 sent again).
2. Lookup overhead with 10,000 entries in the cache: per chunk, a miss (key + failed open), a
   hit of a typical 1000-character answer (read + checksum + decode), and a store (encode +
   atomic write + fsync); plus the one-off measurement of the folder on a run's first store.
   Target: < 2 ms per chunk looked up.

Only 127.0.0.1 is contacted; everything lives in a temporary folder removed at the end.

    python bench/cache.py [--latency 0.3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer  # noqa: E402
from voiceclone_cli.engines.response_cache import ResponseCache, encode_entry, response_key  # noqa: E402
from voiceclone_cli.audio.wav import Audio  # noqa: E402

SAMPLE = REPO / "examples" / "sample.wav"
# 20 chunks of ~1000 characters, no two alike.
TEXT = " ".join(f"Sentence number {i} belongs to a passage long enough for many requests." for i in range(260))
CHUNKS = 20
KILL_AFTER = 10
ENTRIES = 10_000


def exe() -> str:
    found = shutil.which("voiceclone", path=str(Path(sys.executable).parent)) or shutil.which("voiceclone")
    if not found:
        sys.exit("voiceclone is not installed in this environment: pip install -e .")
    return found


def entries(cache: Path) -> int:
    return len(list(cache.glob("responses/*/*.vcr")))


def say(server: FakeSyncCloneServer, cache: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY,
               VOICECLONE_CACHE_DIR=str(cache))
    env.pop("VOICECLONE_CACHE_SIZE", None)
    return subprocess.Popen([exe(), "say", "-s", str(SAMPLE), TEXT, "-o", str(out), "-q", *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def timed(proc: subprocess.Popen, started: float) -> float:
    if proc.wait(timeout=600) != 0:
        sys.exit(f"say failed: {proc.stderr.read().decode()[-400:]}")
    return time.perf_counter() - started


def rerun_after_kill(latency: float, work: Path) -> None:
    server = FakeSyncCloneServer().start()
    try:
        server.state.latency = latency
        server.state.rate = 16000
        cache = work / "cache"
        proc = say(server, cache, work / "out.wav")
        deadline = time.monotonic() + 300
        while entries(cache) < KILL_AFTER:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the first run ended or hung before {KILL_AFTER} answers were cached")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cached = entries(cache)
        sent_before = len(server.requests)

        server.requests.clear()
        started = time.perf_counter()
        cached_seconds = timed(say(server, cache, work / "out.wav"), started)
        cached_requests = len(server.requests)

        server.requests.clear()
        started = time.perf_counter()
        uncached_seconds = timed(say(server, cache, work / "out2.wav", "--no-cache"), started)
        uncached_requests = len(server.requests)
    finally:
        server.shutdown()
        server.server_close()
    print(f"re-run after kill -9 ({CHUNKS} chunks, {latency * 1000:.0f} ms latency, killed with "
          f"{cached} answers cached, {sent_before} requests sent)")
    print(f"  with the cache:  {cached_requests:>2} requests  {cached_seconds:6.2f} s   (target: {CHUNKS - KILL_AFTER} requests)")
    print(f"  --no-cache:      {uncached_requests:>2} requests  {uncached_seconds:6.2f} s")


def lookup_overhead(work: Path) -> None:
    root = work / "lookup"
    cache = ResponseCache(root, max_bytes=10**12)
    small = encode_entry(Audio(np.zeros(2000, np.float32), 24000))
    for i in range(ENTRIES):  # written directly: setting up 10,000 fsynced stores is not the point
        key = response_key(engine="remote", endpoint="http://127.0.0.1/api/sync-clone", sample_sha256="0" * 64,
                           text=f"filler {i}", speed=1.0, pitch=0.0, version="sync-clone/1")
        path = cache.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(small)
    # A 1000-character answer from the service: ~20 s of 16-bit audio at 24 kHz.
    ints = np.random.default_rng(0).integers(-20000, 20000, 20 * 24000)
    answer = Audio(ints.astype(np.float32) / np.float32(32768.0), 24000)

    def key_for(text: str) -> str:
        return response_key(engine="remote", endpoint="http://127.0.0.1/api/sync-clone", sample_sha256="1" * 64,
                            text=text, speed=1.0, pitch=0.0, version="sync-clone/1")

    started = time.perf_counter()
    cache.put(key_for("first store"), answer)  # measures the folder once per run
    first_store = time.perf_counter() - started

    misses, stores, hits = [], [], []
    for i in range(50):
        text = f"chunk {i} " * 100
        started = time.perf_counter()
        assert cache.get(key_for(text)) is None
        misses.append(time.perf_counter() - started)
        started = time.perf_counter()
        cache.put(key_for(text), answer)
        stores.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert cache.get(key_for(text)) is not None
        hits.append(time.perf_counter() - started)
    ms = lambda values: f"{statistics.median(values) * 1000:6.2f} ms"  # noqa: E731
    print(f"lookup overhead per chunk, {ENTRIES:,} entries in the cache (median of 50; target < 2 ms)")
    print(f"  miss (key + lookup):                 {ms(misses)}")
    print(f"  hit of a 20 s answer (read + verify): {ms(hits)}")
    print(f"  store of a 20 s answer (+ fsync):     {ms(stores)}")
    print(f"  first store of a run (measures the folder once): {first_store * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="voiceclone-bench-cache-") as tmp:
        rerun_after_kill(args.latency, Path(tmp))
        lookup_overhead(Path(tmp))


if __name__ == "__main__":
    main()
