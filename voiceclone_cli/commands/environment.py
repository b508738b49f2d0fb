"""The process's streams and terminals as one object, so the CLI runs against any of them.

``main`` binds an ``Environment`` for the length of a run; every helper that reads or writes a
standard stream, or asks whether one is a terminal, asks it. Tests pass their own (byte
buffers, "this is a terminal" flags) instead of swapping ``sys.stdout``; a real run uses the
process's own. A stream that is ``None`` was closed when the process started.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO


def _fd_is_terminal(stream) -> bool:
    """By file descriptor when there is one (what a child process or pipe really sees)."""
    if stream is None:
        return False
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return bool(getattr(stream, "isatty", lambda: False)())


@dataclass
class Environment:
    stdin: BinaryIO | None
    stdout: BinaryIO | None
    stderr: BinaryIO | None
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    variables: Mapping[str, str] | None = None  # environment variables; None: the process's

    @classmethod
    def of_process(cls) -> Environment:
        def binary(stream):
            return None if stream is None else getattr(stream, "buffer", stream)

        return cls(binary(sys.stdin), binary(sys.stdout), binary(sys.stderr),
                   _fd_is_terminal(sys.stdin), _fd_is_terminal(sys.stdout), _fd_is_terminal(sys.stderr))

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.variables is None else self.variables

    @contextmanager
    def bound(self) -> Iterator[Environment]:
        """Make this the run's environment; code that writes to ``sys.std*`` itself (Typer's
        help, rich) writes to these streams too, until the run ends."""
        global _current
        saved = _current, sys.stdin, sys.stdout, sys.stderr
        wrappers = [None if s is None else io.TextIOWrapper(s, encoding="utf-8", errors="replace",
                                                            write_through=True)
                    for s in (self.stdin, self.stdout, self.stderr)]
        _current = self
        sys.stdin, sys.stdout, sys.stderr = wrappers
        try:
            yield self
        finally:
            for wrapper in wrappers:
                if wrapper is not None:
                    try:
                        wrapper.flush()
                        wrapper.detach()  # the caller's buffers stay open
                    except (OSError, ValueError):
                        pass
            _current, sys.stdin, sys.stdout, sys.stderr = saved


_current: Environment | None = None


def current() -> Environment:
    """The bound environment, else the process's own (looked up each time: cheap)."""
    return _current if _current is not None else Environment.of_process()
