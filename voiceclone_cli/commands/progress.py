"""One progress bar for every command that does long work: on stderr, only for a person.

It is shown when stderr is a terminal and ``--quiet`` is not given; otherwise every call is a
no-op, so commands call it unconditionally. The ETA comes from work actually done.
"""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """``with ProgressBar("speaking", "chunks", quiet=q) as bar: bar.update(done, total, notes)``."""

    def __init__(self, label: str, unit: str, *, quiet: bool = False, eta: bool = True) -> None:
        from voiceclone_cli.commands.common import stderr_is_terminal

        self.label, self.unit, self.eta = label, unit, eta
        self.enabled = not quiet and stderr_is_terminal()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Progress(
                TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TextColumn(self.unit),
                TextColumn("{task.fields[notes]}"), TimeRemainingColumn() if self.eta else TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=None, notes="")
        return self

    def update(self, done: int, total: int | None, notes: str = "") -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total, notes=notes)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
