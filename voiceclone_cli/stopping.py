"""SIGTERM and SIGHUP stop a run the way Ctrl-C does, so nothing is left half-done.

The signal is turned into an exception in the main thread (a ``KeyboardInterrupt`` subclass,
so every clean-up path written for Ctrl-C runs: sinks abort, temp files go, an existing output
stays untouched), and the process exits with the conventional ``128 + signal`` status: 143
for SIGTERM, 129 for SIGHUP. A second signal during that clean-up is ignored rather than
interrupting it half-way. SIGKILL cannot be caught: what it leaves, the next run removes
(see ``atomic.remove_stale_temps``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

_received: int | None = None


class Terminated(KeyboardInterrupt):
    """The run was asked to stop by a signal other than SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _handler(signum: int, frame) -> None:
    global _received
    if _received is not None:
        return  # already stopping: let the clean-up finish
    _received = signum
    raise Terminated(signum)


def install() -> Callable[[], None]:
    """Route SIGTERM and SIGHUP to ``Terminated``; return a function restoring the old handlers.

    Only the main thread may install handlers (in-process callers on other threads get a
    no-op, and keep their own behaviour).
    """
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, _handler)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def received() -> int | None:
    """The signal that stopped this run, if one did."""
    return _received


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
