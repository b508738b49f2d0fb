"""An overall deadline for one HTTP exchange, enforced at every socket operation.

httpx's timeouts bound each socket operation, not the exchange: a server that sends one byte
every few seconds — in the headers or in the body — keeps a request alive forever although no
single read ever times out. Wrapping httpcore's network backend lets every connect, TLS
handshake, write and read of the thread that set a deadline wait no longer than the time
left, and fail with httpcore's own timeout errors (which httpx maps to ``httpx.TimeoutException``)
once it has passed. No watchdog thread is needed, so nothing closes a socket that another
worker is using: a sync httpx client does its I/O in the calling thread, so a thread-local
deadline is the attempt's own.

Name resolution is the one step it cannot bound: the system resolver has no timeout argument.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

_WRITE_SLICE = 16 * 1024  # a slow reader can stall each send(): re-check the deadline between slices

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every socket operation this thread makes inside the block to ``seconds`` in total."""
    previous = getattr(_local, "at", None)
    _local.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.at = previous


def remaining() -> float | None:
    """Seconds left before this thread's deadline, or None outside a deadline."""
    at = getattr(_local, "at", None)
    return None if at is None else at - time.monotonic()


def expired() -> bool:
    left = remaining()
    return left is not None and left <= 0


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the deadline for this request has passed")
    return left if timeout is None else min(timeout, left)


def install(client: httpx.Client) -> bool:
    """Make every connection pool of ``client`` honour the deadline; False if it cannot.

    httpx does not expose the pool's network backend, so this reaches into ``transport._pool``
    (httpcore's documented ``network_backend``) of the default transport and of any proxy
    transport httpx mounted from the environment. A test fails if a new httpx moves it.
    """
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    installed = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            continue
        if not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)
        installed = True
    return installed


class _DeadlineStream:
    """A network stream whose every read and write stops at the deadline."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        view = memoryview(buffer)
        for start in range(0, len(view), _WRITE_SLICE):
            self._inner.write(bytes(view[start : start + _WRITE_SLICE]), _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        import httpcore

        tls = self._inner.start_tls(ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's network backend, with connects bounded by the deadline and streams wrapped."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        import httpcore

        stream = self._inner.connect_tcp(
            host, port, _capped(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> Any:
        import httpcore

        stream = self._inner.connect_unix_socket(path, _capped(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
