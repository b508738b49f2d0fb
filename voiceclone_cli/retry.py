"""Retry timing: exponential backoff with full jitter, ``Retry-After``, and a shared pause.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of many
clients instead of synchronising them. ``RateGate`` lets one worker's 429 pause every worker
that shares the gate, so a batch stops hammering a rate-limited service as a whole.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 20.0
    max_retry_after: float = 300.0  # a server asking for longer than this is not waited for

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (0-based), full jitter."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2**attempt))
        return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        now = time.time() if now is None else now
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class RateGate:
    """A pause shared by workers: ``hold(s)`` closes it for everyone, ``wait()`` blocks until open."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open_at = 0.0
        self._cond = threading.Condition()

    def hold(self, seconds: float) -> None:
        with self._cond:
            self._open_at = max(self._open_at, self._clock() + seconds)
            self._cond.notify_all()

    def remaining(self) -> float:
        with self._cond:
            return max(0.0, self._open_at - self._clock())

    def wait(self) -> None:
        with self._cond:
            while True:
                left = self._open_at - self._clock()
                if left <= 0:
                    return
                self._cond.wait(timeout=left)
