"""The engine protocol shared by the remote API and the local synthesiser.

An engine turns one chunk of text, in a prepared voice, into mono audio. Everything around
that (text chunking, joins, sinks, batch scheduling) is engine-agnostic and shared.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from voiceclone_cli.audio.wav import Audio


class Engine(Protocol):
    name: str
    max_chunk_chars: int  # the longest text one ``synthesize`` call accepts
    first_chunk_chars: int | None  # a shorter first chunk for a faster first audio, if wanted
    max_workers: int  # how many ``synthesize`` calls may usefully run at once
    cpu_bound: bool  # work competes for cores: make the first chunk alone, then look ahead
    endpoint: str  # where the audio is made (the API URL; "" offline): part of the cache key
    version: str  # changes whenever the same input may give other audio: part of the cache key

    def prepare_voice(self, sample_path: Path, *, strict: bool = False) -> Any:
        """Validate and analyse a sample (no network); the result is passed to ``synthesize``."""

    def synthesize(self, text: str, voice: Any, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        """One chunk of speech. Thread-safe."""

    def stats(self) -> dict[str, int]:
        """Counters for summaries, e.g. ``{"requests": 3, "retries": 1, "cache_hits": 2}``."""

    def close(self) -> None: ...
