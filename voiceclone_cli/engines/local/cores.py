"""The cores of this process, shared by the chunks being made at once.

A chunk made alone analyses the two halves of its speech with WORLD at the same time, on two
cores. When every core already has a chunk (``serve`` under load, ``batch -j``, ``book -j``),
it analyses them one after the other: no CPU goes to threads fighting over cores. The frames
are the same either way (the speech is cut the same way; only when each half runs differs).

Piper's network is not switched the same way: ONNX Runtime sets a session's threads when it
is created, and a second, one-thread session of the voice costs ~100 MB of weights plus its
working memory (200-300 MB after a long sentence); ``bench/local_threads.py`` measures both.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CoreBudget:
    def __init__(self, cores: int | None = None) -> None:
        self.cores = max(1, cores or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._chunks = 0  # chunks being made now
        self._extra = 0  # cores lent to a chunk's parallel part

    @contextmanager
    def chunk(self) -> Iterator[None]:
        """While one chunk is being made."""
        with self._lock:
            self._chunks += 1
        try:
            yield
        finally:
            with self._lock:
                self._chunks -= 1

    @contextmanager
    def extra_core(self) -> Iterator[bool]:
        """A second core for a part that can run in two pieces, if one is idle (True)."""
        with self._lock:
            lent = self._chunks + self._extra < self.cores
            if lent:
                self._extra += 1
        try:
            yield lent
        finally:
            if lent:
                with self._lock:
                    self._extra -= 1


CORES = CoreBudget()
