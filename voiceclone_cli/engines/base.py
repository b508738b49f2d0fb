"""The engine protocol: what every engine, built-in or plugin, gives the rest of voiceclone.

An engine turns one chunk of text, in a prepared voice, into mono audio. Everything around
that — checking and fitting the sample, chunking the text, the response cache, joins, sinks,
batch scheduling, retries of a whole job — is shared and engine-agnostic. Engines never print,
prompt or exit: they raise ``voiceclone_cli.errors`` exceptions (``EngineUnavailableError`` for
missing weights or libraries, ``InputError`` for text they cannot speak, ``ServerError`` for a
failed backend) and report through ``logging.getLogger("voiceclone....")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from voiceclone_cli.audio.wav import Audio
    from voiceclone_cli.prepare.sample import PreparedSample


class Engine(Protocol):
    name: str
    version: str  # changes whenever the same input may give other audio: part of the cache key
    max_chunk_chars: int  # the longest text one ``synthesize`` call accepts
    first_chunk_chars: int | None  # a shorter first chunk for a faster first audio, if wanted
    sample_rate: int | None  # the rate of its audio, or None when only the answer tells
    max_workers: int  # how many ``synthesize`` calls may usefully run at once
    cpu_bound: bool  # work competes for cores: make the first chunk alone, then look ahead

    def warm_up(self) -> None:
        """Start loading what the first chunk needs (a model), in the background; optional work."""

    def prepare_voice(self, sample: PreparedSample) -> Any:
        """The engine's voice from a checked and fitted sample (no network); passed to
        ``synthesize``. ``sample.data`` is the exact upload, ``sample.samples``/``rate`` its audio."""

    def synthesize(self, text: str, voice: Any, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        """One chunk of speech (at most ``max_chunk_chars`` characters). Thread-safe."""

    def stats(self) -> dict[str, int]:
        """Counters for summaries, e.g. ``{"requests": 3, "retries": 1}``."""

    def close(self) -> None:
        """Release connections and threads; the engine is not used afterwards."""


def cache_scope(engine: Any) -> str:
    """Where an engine's audio is made, for the cache key: the API URL, or "" for plugins and
    offline engines (whose ``name`` and ``version`` already say everything)."""
    return getattr(engine, "endpoint", "") or ""


def threads_for(engine: Any, jobs: int) -> int:
    """Threads that keep ``jobs`` engine calls going at once.

    An engine that bounds its own requests in flight to ``max_workers`` says so with
    ``overlap_workers`` (optional): it is given that many more threads, which finish answers and
    prepare the next requests while ``jobs`` requests stay out, so no request slot waits on
    that work.
    """
    workers = max(1, min(jobs, engine.max_workers))
    if engine.max_workers <= jobs:
        workers += max(0, int(getattr(engine, "overlap_workers", 0) or 0))
    return workers
