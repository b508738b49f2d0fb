"""Running the app under uvicorn: our socket, our signals, a graceful stop that exits 0.

The socket is bound here, before uvicorn starts, so a port in use is a one-line error (not a
log line and ``sys.exit(1)`` from inside uvicorn) and ``--port 0`` can report the port it got.
SIGTERM and Ctrl-C stop accepting, let requests in flight finish (up to the grace period) and
return normally; SIGHUP reloads the keys. With ``--workers N`` uvicorn's own supervisor runs N
processes on the one socket (and restarts them, so they re-read the keys, on SIGHUP).
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable

import uvicorn

from voiceclone_cli.errors import UsageError


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         hint="choose another --port, or stop what is using it") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server with SIGHUP for reloading keys, and no re-raised SIGTERM after a
    graceful stop (uvicorn re-raises it, which would end the process with 143, not 0)."""

    def __init__(self, config: uvicorn.Config, on_hangup: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_hangup = on_hangup

    def capture_signals(self):
        import contextlib

        @contextlib.contextmanager
        def captured():
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: self.on_hangup())
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        return captured()


def uvicorn_config(app, *, workers: int, grace: float, factory: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app, factory=factory, workers=workers, log_config=None, access_log=False,
        timeout_graceful_shutdown=grace, lifespan="on", server_header=False,
        timeout_keep_alive=5,
    )


def serve_one(app, sock: socket.socket, *, grace: float, on_hangup: Callable[[], None]) -> None:
    _Server(uvicorn_config(app, workers=1, grace=grace), on_hangup).run(sockets=[sock])


def serve_many(app_factory: str, sock: socket.socket, *, workers: int, grace: float) -> None:
    import inspect

    from uvicorn.supervisors import Multiprocess

    config = uvicorn_config(app_factory, workers=workers, grace=grace, factory=True)
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before its process health checks
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()
    else:
        Multiprocess(config, sockets=[sock]).run()
