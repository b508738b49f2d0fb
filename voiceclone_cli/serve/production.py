"""One request's speech, made on the work pool and handed to the event loop as it is encoded.

``speech.speak`` runs in a pool thread (it blocks on the engine) and writes into a ``QueueSink``,
which encodes each joined block and passes the bytes to the event loop through an asyncio
queue. The loop side sends them on (streaming) or gathers them (a whole file with its
Content-Length). If the client goes away, the sink's next write raises ``ClientGone``: the
engine stops after the chunk it is making, and the slot is free again.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceclone_cli.serve.encode import SpeechFormat, StreamEncoder, encode_whole

DATA, END, ERROR = "data", "end", "error"


class ClientGone(Exception):
    """The client disconnected: the work is no longer wanted."""


class QueueSink:
    """A ``speech.speak`` sink whose output goes to the event loop."""

    def __init__(self, fmt: SpeechFormat, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue,
                 cancelled: threading.Event, *, stream: bool) -> None:
        self.format = fmt
        self.rate: int | None = None
        self._loop, self._queue, self._cancelled, self._stream = loop, queue, cancelled, stream
        self._encoder: StreamEncoder | None = None
        self._blocks: list[Any] = []

    def put(self, kind: str, value: Any = None) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (kind, value))

    def rate_for(self, rate: int) -> int:
        return self.format.rate_for(rate)

    def open(self, rate: int) -> None:
        self.rate = rate
        if self._stream:
            self._encoder = StreamEncoder(self.format, rate)

    def write(self, samples) -> None:
        if self._cancelled.is_set():
            raise ClientGone
        if self._encoder is None:
            self._blocks.append(samples)
        elif data := self._encoder.encode(samples):
            self.put(DATA, data)

    def close(self) -> None:
        if self._encoder is not None:
            data = self._encoder.finish()
        else:
            import numpy as np

            data = encode_whole(self.format, np.concatenate(self._blocks) if self._blocks
                                else np.zeros(0, np.float32), self.rate)
            self._blocks = []
        if data:
            self.put(DATA, data)

    def abort(self) -> None:
        self._blocks = []


@dataclass
class Production:
    queue: asyncio.Queue
    sink: QueueSink
    cancelled: threading.Event

    def cancel(self) -> None:
        self.cancelled.set()


def make_job(sink: QueueSink, work: Callable[[QueueSink], None]) -> Callable[[], None]:
    """Run ``work(sink)`` and report how it ended through the sink's queue."""

    def job() -> None:
        try:
            work(sink)
        except BaseException as exc:  # delivered to the request, which decides the answer
            sink.put(ERROR, exc)
        else:
            sink.put(END)

    return job


async def until_disconnected(receive) -> None:
    """Returns once the client has gone (call only after the request body has been read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def next_item(production: Production, disconnected: asyncio.Task) -> tuple[str, Any]:
    """The next thing the job produced; ``ClientGone`` (and the job told to stop) if the
    client leaves first."""
    getter = asyncio.ensure_future(production.queue.get())
    done, _ = await asyncio.wait({getter, disconnected}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    production.cancel()
    raise ClientGone
