"""What a batch reports: each line's outcome as it settles, and the summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceclone_cli.batch.manifest import MANIFEST_NAME
from voiceclone_cli.errors import ExitCode, VoicecloneError

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
COMPLETE, PARTIAL, STOPPED, INTERRUPTED = "complete", "partial", "stopped", "interrupted"


@dataclass(frozen=True)
class LineOutcome:
    line: int
    output: str | None
    status: str  # DONE, SKIPPED or FAILED
    seconds: float = 0.0
    reason: str = ""
    exit_code: int = 0


@dataclass
class BatchCounts:
    total: int | None  # None when the input is a stream
    done: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0  # made by this run (skipped lines not included)

    @property
    def settled(self) -> int:
        return self.done + self.skipped + self.failed


@dataclass
class BatchSummary:
    status: str  # COMPLETE, PARTIAL, STOPPED or INTERRUPTED
    counts: BatchCounts
    failures: list[LineOutcome]
    engine: str
    jobs: int
    elapsed_seconds: float
    requests: int
    retries: int
    outdir: Path
    cache_hits: int = 0  # chunks answered from the response cache, not requested again
    failed_file: Path | None = None
    join_file: Path | None = None
    join_seconds: float | None = None
    join_skipped: str | None = None  # why --join was not written
    error: VoicecloneError | None = field(default=None, repr=False)  # what the exit status reports

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        c = self.counts
        return {
            "status": self.status,
            "total": c.total,
            "done": c.done,
            "skipped": c.skipped,
            "failed": c.failed,
            "not_attempted": None if c.total is None else c.total - c.settled,
            "audio_seconds": round(c.audio_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "requests": self.requests,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "engine": self.engine,
            "jobs": self.jobs,
            "outdir": str(self.outdir),
            "manifest": str(self.outdir / MANIFEST_NAME),
            "failed_file": str(self.failed_file) if self.failed_file else None,
            "join": str(self.join_file) if self.join_file else None,
            "join_seconds": None if self.join_seconds is None else round(self.join_seconds, 3),
            "failures": [
                {"line": f.line, "output": f.output, "reason": f.reason, "exit_code": f.exit_code}
                for f in self.failures
            ],
        }


@dataclass
class BatchPlan:
    """What a batch would cost (``--dry-run``): lines to do, already done, invalid, requests."""

    total: int | None
    to_do: int = 0
    skipped: int = 0  # already done, per the manifest: no request
    invalid: list[LineOutcome] = field(default_factory=list)  # would fail before any request
    chunks: int = 0
    cached: int = 0  # chunks the response cache would answer
    characters: int = 0
    audio_seconds: float = 0.0  # an estimate, see ``prepare/estimate.py``
    speakers: dict[str, list[int]] = field(default_factory=dict)  # a dialogue's: lines and characters to do

    @property
    def requests(self) -> int:
        return self.chunks - self.cached


class BatchStopped(VoicecloneError):
    """The failure that stopped a batch early, carrying that failure's own exit code."""

    def __init__(self, message: str, hint: str, exit_code: int) -> None:
        super().__init__(message, hint)
        self.exit_code = ExitCode(exit_code)
