"""The ``say`` pipeline as a library call: text -> chunks -> engine -> joins -> sink.

Usable without the CLI::

    from voiceclone_cli.speech import speak
    from voiceclone_cli.engines.remote.engine import RemoteEngine
    from voiceclone_cli.settings import resolve
    from voiceclone_cli.output.sinks import AudioFileSink

    engine = RemoteEngine(resolve())
    voice = engine.prepare_voice(Path("me.wav"))
    speak("Hello there", engine, voice, AudioFileSink(Path("hello.wav")))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceclone_cli.audio.assembly import Joiner, JoinSettings
from voiceclone_cli.prepare.chunking import chunk_text
from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import TextError
from voiceclone_cli.prefetch import OrderedPrefetcher
from voiceclone_cli.output.sinks import Sink

ProgressCallback = Callable[[int, int, float], None]  # chunks done, chunks total, audio seconds

# Dry runs estimate audio length from text: ~15 characters per second of speech at speed 1.0
# (about 150 words a minute, a usual narration pace). The real length depends on the voice.
CHARS_PER_SECOND = 15.0


@dataclass
class SpeakResult:
    seconds: float
    rate: int
    chunks: int
    requests: int
    retries: int
    cache_hits: int  # chunks answered from the response cache instead of the engine
    joins: list[float]  # seconds into the output where chunks meet


@dataclass
class SpeechPlan:
    """What speaking a text would cost, worked out without making any audio (``--dry-run``)."""

    chunks: int
    characters: int  # as sent: the chunks' own characters
    cached: int  # chunks the response cache would answer
    audio_seconds: float  # an estimate: see CHARS_PER_SECOND

    @property
    def requests(self) -> int:
        """At most this many: a chunk repeated within the text may be answered by the cache."""
        return self.chunks - self.cached


def estimate_seconds(characters: int, speed: float) -> float:
    return characters / CHARS_PER_SECOND / speed


def plan_speech(text: str, engine: Engine, voice: Any, *, speed: float = 1.0, pitch: float = 0.0) -> SpeechPlan:
    """Chunk ``text`` exactly as ``speak`` will and count what the engine would be asked for."""
    chunks = _chunks(text, engine)
    is_cached = getattr(engine, "is_cached", None)  # only behind the response cache
    cached = sum(1 for chunk in chunks if is_cached and is_cached(chunk, voice, speed=speed, pitch=pitch))
    characters = sum(len(chunk) for chunk in chunks)
    return SpeechPlan(len(chunks), characters, cached, estimate_seconds(characters, speed))


def _chunks(text: str, engine: Engine) -> list[str]:
    chunks = chunk_text(text, engine.max_chunk_chars, engine.first_chunk_chars)
    if not chunks:
        raise TextError("the text is empty", hint="give some words to speak")
    return chunks


def speak(
    text: str,
    engine: Engine,
    voice: Any,
    sink: Sink,
    *,
    speed: float = 1.0,
    pitch: float = 0.0,
    prefetch: int = 2,
    rate: int | None = None,
    join: JoinSettings = JoinSettings(),
    on_progress: ProgressCallback | None = None,
) -> SpeakResult:
    """Speak ``text`` into ``sink``; on any failure the sink is aborted and the error re-raised."""
    chunks = _chunks(text, engine)
    joiner = Joiner(rate, join)
    workers = max(1, min(prefetch, engine.max_workers, len(chunks)))
    results = OrderedPrefetcher(
        lambda chunk: engine.synthesize(chunk, voice, speed=speed, pitch=pitch),
        chunks,
        workers=workers,
        first_alone=engine.cpu_bound,
    )
    opened = False
    try:
        for done, audio in enumerate(results, start=1):
            if joiner.rate is None:  # the engine's rate, unless the sink's encoder cannot take it
                joiner.rate = sink.rate_for(audio.rate)
            ready = joiner.add(audio)
            if not opened:
                sink.open(joiner.rate)
                opened = True
            sink.write(ready)
            if on_progress:
                on_progress(done, len(chunks), joiner.frames_out / joiner.rate)
        sink.write(joiner.finish())
        sink.close()
    except BaseException:
        results.close()
        sink.abort()
        raise
    stats = engine.stats()
    return SpeakResult(
        seconds=joiner.frames_out / joiner.rate,
        rate=joiner.rate,
        chunks=len(chunks),
        requests=stats.get("requests", 0),
        retries=stats.get("retries", 0),
        cache_hits=stats.get("cache_hits", 0),
        joins=[index / joiner.rate for index in joiner.joins],
    )
