"""Ordered results from a bounded pool of background workers.

Chunk N+1 and N+2 are being made while chunk N is written, and results still come out in
input order. Workers are daemon threads: Ctrl-C never waits for an in-flight request to end.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_STOP = object()


class OrderedPrefetcher(Generic[T, R]):
    def __init__(self, fn: Callable[[T], R], items: Iterable[T], *, workers: int, ahead: int | None = None,
                 first_alone: bool = False):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._fn = fn
        self._items = iter(items)
        self._ahead = max(workers, ahead or workers)
        # CPU-bound engines: the first item gets every core to itself, for the fastest first
        # result; the look-ahead starts once it is done.
        self._first_alone = first_alone
        self._tasks: queue.Queue = queue.Queue()
        self._pending: deque[Future[R]] = deque()
        self._threads = [
            threading.Thread(target=self._work, name=f"voiceclone-worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, item = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._fn(item))
            except BaseException as exc:  # delivered to the consumer, in order
                future.set_exception(exc)

    def _submit_next(self) -> bool:
        for item in self._items:
            future: Future[R] = Future()
            self._pending.append(future)
            self._tasks.put((future, item))
            return True
        return False

    def __iter__(self) -> Iterator[R]:
        try:
            if self._first_alone and self._submit_next():
                yield self._pending.popleft().result()
            while len(self._pending) < self._ahead and self._submit_next():
                pass
            while self._pending:
                result = self._pending.popleft().result()
                self._submit_next()
                yield result
        finally:
            self.close()

    def close(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        for _ in self._threads:
            self._tasks.put(_STOP)
