#!/usr/bin/env python3
"""``voiceclone serve`` under load: 1, 2 and 4 concurrent loopback clients.

Starts ``voiceclone serve`` with the local engine and a saved voice (in throw-away
directories; the response cache is off, so every request is real work), then lets 1, 2 and
4 clients each make a fixed number of ``POST /v1/audio/speech`` requests (WAV) one after the
other. Reports requests/s, p50/p99 latency, and efficiency: the engine-only time for the same
text (``speech.speak`` in this process, no HTTP) ÷ the server's time per request (the run's
wall time ÷ its requests; with several clients it passes 100 % when requests overlap).
Targets: efficiency ≥ 90 % at 1 client; at 2 clients ≥ 1.4× the throughput of 1 (2 cores);
the server's RSS flat over the run. Also the cores the server keeps busy (its CPU time ÷ wall
time): what one client leaves idle is all that more clients can add. Bounded: it stops by
itself.

    python bench/serve_load.py [--requests 6] [--clients 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from tests.serve_support import BIN, Server  # noqa: E402

SAMPLE = REPO / "examples" / "sample.wav"
TEXT = ("The quick brown fox jumps over the lazy dog, and then it runs far away "
        "into the quiet green forest behind the old farm house.")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_only(runs: int, parallel: int = 2) -> tuple[float, float]:
    """The median time ``speech.speak`` takes for TEXT in this process, as the server calls it,
    and the engine's own throughput with ``parallel`` of them at once (what 2 clients can reach
    at best on this machine, as loaded as it is right now)."""
    from voiceclone_cli.engines.local.engine import LocalEngine
    from voiceclone_cli.prepare.sample import prepare_sample
    from voiceclone_cli.speech import speak

    class NullSink:
        def rate_for(self, rate): return rate
        def open(self, rate): pass
        def write(self, samples): pass
        def close(self): pass
        def abort(self): pass

    engine = LocalEngine(use_cache=True)
    voice = engine.prepare_voice(prepare_sample(SAMPLE))
    speak(TEXT, engine, voice, NullSink(), prefetch=1)  # model load and first-call costs
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        speak(TEXT, engine, voice, NullSink(), prefetch=1)
        times.append(time.perf_counter() - start)
    threads = [threading.Thread(target=speak, args=(TEXT, engine, voice, NullSink()), kwargs={"prefetch": 1})
               for _ in range(parallel)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel_throughput = parallel / (time.perf_counter() - start)
    engine.close()
    return statistics.median(times), parallel_throughput


def run_clients(url: str, clients: int, per_client: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        with requests.Session() as session:
            for _ in range(per_client):
                start = time.perf_counter()
                answer = session.post(url + "/v1/audio/speech", json={
                    "model": "m", "input": TEXT, "voice": "bench", "response_format": "wav"}, timeout=300)
                took = time.perf_counter() - start
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                with lock:
                    latencies.append(took)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"requests failed: {failures[:3]}")
    return time.perf_counter() - start, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6, help="requests per client (default 6)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="voiceclone-serve-bench-") as tmp:
        home = Path(tmp)
        env = {"VOICECLONE_CONFIG_DIR": str(home / "config"), "VOICECLONE_CACHE_DIR": str(home / "cache"),
               "VOICECLONE_DATA_DIR": str(home / "data")}
        os.environ.update(env)
        subprocess.run([BIN, "voices", "add", "bench", SAMPLE], check=True, capture_output=True)
        engine_seconds, engine_parallel = engine_only(5)
        server = Server(home, "--engine", "local", "--no-cache", "--quiet", "--max-queue", "64")
        try:
            run_clients(server.url, max(args.clients), 1)  # warm: model, saved voice, every worker thread
            rss = [rss_kib(server.proc.pid)]
            print(f"engine only: {engine_seconds:.3f} s per request ({len(TEXT)} characters); "
                  f"2 at once: {engine_parallel * engine_seconds:.2f}x the throughput of 1")
            print(f"{'clients':>7} {'requests':>8} {'req/s':>7} {'p50 s':>7} {'p99 s':>7} {'efficiency':>10} "
                  f"{'RSS MiB':>8} {'cores busy':>10} {'CPU s/req':>9}")
            base = None
            cores = os.cpu_count() or 1
            for clients in args.clients:
                cpu_before = cpu_seconds(server.proc.pid)
                wall, latencies = run_clients(server.url, clients, args.requests)
                cpu = cpu_seconds(server.proc.pid) - cpu_before
                busy = cpu / wall
                rss.append(rss_kib(server.proc.pid))
                throughput = len(latencies) / wall
                base = base or throughput
                per_request = wall / len(latencies)  # the server's time per request
                efficiency = engine_seconds / per_request  # above 100 % when requests run side by side
                print(f"{clients:>7} {len(latencies):>8} {throughput:>7.2f} {percentile(latencies, 0.5):>7.3f} "
                      f"{percentile(latencies, 0.99):>7.3f} {efficiency:>9.0%} {rss[-1] / 1024:>8.0f} {busy:>10.2f} {cpu / len(latencies):>9.2f}"
                      + (f"   ({throughput / base:.2f}x of 1 client)" if clients > 1 else ""))
            print(f"(throughput can reach at most {cores} cores ÷ the CPU a request costs; what one client "
                  f"leaves of the cores is what more clients can add)")
            print(f"server RSS after warm-up {rss[0] / 1024:.0f} MiB, at the end {rss[-1] / 1024:.0f} MiB "
                  f"({(rss[-1] - rss[0]) / 1024:+.0f} MiB)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
