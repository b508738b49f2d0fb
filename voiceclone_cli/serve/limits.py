"""What keeps the server responsive under load: a per-key rate limit and a bounded queue.

Engine work runs on a thread pool of the engine's own size (more threads would only make every
request slower). A request holds a ticket from the moment it is accepted until its audio is
made; at most ``workers + max_queue`` tickets exist, and a request that would need one more is
answered 503 at once, with a ``Retry-After``, instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from voiceclone_cli.errors import UsageError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$", re.I)
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}


@dataclass(frozen=True)
class Rate:
    requests: float
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


def parse_rate(text: str) -> Rate:
    """``30/min``, ``2/s``, ``1000/hour``; a bare number is per minute."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"invalid --rate {text!r}", hint="give requests per time, e.g. --rate 30/min or --rate 2/s")
    return Rate(float(match.group(1)), _PER[(match.group(2) or "min").lower()])


class RateLimiter:
    """A token bucket per key: bursts up to the rate's count, refilled evenly."""

    def __init__(self, rate: Rate | None) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go; otherwise the seconds until it could."""
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        # A bucket holds at least one request, so a rate under 1/s (0.5/s) still lets some through.
        capacity, refill = max(1.0, self.rate.requests), self.rate.per_second
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * refill)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / refill


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class QueueFull(Exception):
    pass


class WorkQueue:
    """Tickets, run slots and the thread pool the engine's work runs on."""

    def __init__(self, workers: int, max_queue: int) -> None:
        self.workers = workers
        self.max_queue = max_queue
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voiceclone-serve")
        self._slots = asyncio.Semaphore(workers)
        self.tickets = 0
        self.running = 0
        self._busy_seconds = 0.0  # engine time, for the estimate in Retry-After
        self._jobs = 0

    @property
    def waiting(self) -> int:
        return self.tickets - self.running

    def admit(self) -> None:
        if self.tickets >= self.workers + self.max_queue:
            raise QueueFull
        self.tickets += 1

    def release(self) -> None:
        self.tickets -= 1

    def suggested_wait(self) -> float:
        """Roughly how long until a place frees: the mean job time times the jobs ahead."""
        mean = self._busy_seconds / self._jobs if self._jobs else 1.0
        return mean * max(1, self.waiting + 1) / self.workers

    async def start(self, job, *args) -> asyncio.Future:
        """Wait for a free slot, then run ``job`` on the pool. The slot is given back when the
        job ends, however the request ends (a client that went away does not keep it)."""
        await self._slots.acquire()
        self.running += 1
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future = loop.run_in_executor(self.executor, job, *args)

        def done(_):
            self._busy_seconds += time.monotonic() - started
            self._jobs += 1
            self.running -= 1
            self._slots.release()

        future.add_done_callback(done)
        return future

    def close(self) -> None:
        self.executor.shutdown(wait=True)
