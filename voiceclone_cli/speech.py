"""The ``say`` pipeline as a library call: text -> chunks -> engine -> joins -> sink.

Text may carry pause markup (``prepare.markup``): it is split into text and pauses first, each
text segment is chunked on its own (so a pause always ends a chunk and is never sent to an
engine), and each pause becomes exact silence in the output. While the audio is assembled,
every sentence gets a cue: the time its chunk really occupies in the output (after edge
trimming and cross-fades), divided among the chunk's sentences where the engine says they
meet (the local engine), else by their share of its characters.

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

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from voiceclone_cli.audio.assembly import Joiner, JoinSettings
from voiceclone_cli.audio.wav import Audio
from voiceclone_cli.prepare.estimate import estimate_seconds
from voiceclone_cli.prepare.chunking import chunk_text
from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import TextError
from voiceclone_cli.prefetch import OrderedPrefetcher
from voiceclone_cli.output.sinks import Sink
from voiceclone_cli.prepare import markup
from voiceclone_cli.prepare.markup import Pause, Segment
from voiceclone_cli.prepare.sentences import sentences

Item = str | Pause  # one chunk of text for the engine, or silence

ProgressCallback = Callable[[int, int, float], None]  # chunks done, chunks total, audio seconds



@dataclass(frozen=True)
class Cue:
    """One sentence and when it is heard, in seconds from the start of the output."""

    start: float
    end: float
    text: str


@dataclass
class SpeakResult:
    seconds: float
    rate: int
    chunks: int
    requests: int
    retries: int
    cache_hits: int  # chunks answered from the response cache instead of the engine
    joins: list[float]  # seconds into the output where chunks meet
    cues: list[Cue] = field(default_factory=list)  # one per sentence, in order


@dataclass
class SpeechPlan:
    """What speaking a text would cost, worked out without making any audio (``--dry-run``)."""

    chunks: int
    characters: int  # as sent: the chunks' own characters
    cached: int  # chunks the response cache would answer
    audio_seconds: float  # an estimate: see prepare/estimate.py

    @property
    def requests(self) -> int:
        """At most this many: a chunk repeated within the text may be answered by the cache."""
        return self.chunks - self.cached


def plan_speech(text: str | Sequence[Segment], engine: Engine, voice: Any, *, speed: float = 1.0,
                pitch: float = 0.0, use_markup: bool = True, lexicon: Any = None) -> SpeechPlan:
    """Chunk ``text`` exactly as ``speak`` will and count what the engine would be asked for."""
    chunks = [item for item in speech_items(text, engine, use_markup=use_markup, lexicon=lexicon)
              if isinstance(item, str)]
    is_cached = getattr(engine, "is_cached", None)  # only behind the response cache
    cached = sum(1 for chunk in chunks if is_cached and is_cached(chunk, voice, speed=speed, pitch=pitch))
    characters = sum(len(chunk) for chunk in chunks)
    return SpeechPlan(len(chunks), characters, cached, estimate_seconds(characters, speed))


def speech_items(text: str | Sequence[Segment], engine: Engine, *, use_markup: bool = True,
                 lexicon: Any = None) -> list[Item]:
    """The chunks and pauses ``text`` is spoken as, in order.

    ``text`` is a string (its markup parsed unless ``use_markup`` is off) or segments already
    parsed (a book chapter: its title, a pause, its body). ``lexicon`` (``Lexicon.apply``)
    rewrites the words of each text segment, never the markup.
    """
    if isinstance(text, str):
        segments = markup.parse_markup(text) if use_markup else [text]
    else:
        segments = list(text)
    items: list[Item] = []
    first = True
    for segment in segments:
        if isinstance(segment, Pause):
            if segment.seconds > 0:
                items.append(segment)
            continue
        if lexicon is not None:
            segment = lexicon.apply(segment)
        chunks = chunk_text(segment, engine.max_chunk_chars, engine.first_chunk_chars if first else None)
        first = first and not chunks
        items.extend(chunks)
    if first:
        raise TextError("the text is empty", hint="give some words to speak")
    return items


def speak(
    text: str | Sequence[Segment],
    engine: Engine,
    voice: Any,
    sink: Sink,
    *,
    speed: float = 1.0,
    pitch: float = 0.0,
    prefetch: int = 2,
    rate: int | None = None,
    join: JoinSettings = JoinSettings(),
    use_markup: bool = True,
    lexicon: Any = None,
    on_progress: ProgressCallback | None = None,
) -> SpeakResult:
    """Speak ``text`` into ``sink``; on any failure the sink is aborted and the error re-raised."""
    try:
        items = speech_items(text, engine, use_markup=use_markup, lexicon=lexicon)
    except BaseException:  # e.g. text that is only markup: give back a name reserved for the output
        sink.abort()
        raise
    chunks = [item for item in items if isinstance(item, str)]
    workers = max(1, min(prefetch, engine.max_workers, len(chunks)))
    results = OrderedPrefetcher(
        lambda chunk: engine.synthesize(chunk, voice, speed=speed, pitch=pitch),
        chunks,
        workers=workers,
        first_alone=engine.cpu_bound,
    )
    try:
        assembled = assemble(items, iter(results), sink, rate=rate, join=join, on_progress=on_progress)
    except BaseException:
        results.close()
        raise
    stats = engine.stats()
    return SpeakResult(
        seconds=assembled.frames / assembled.rate,
        rate=assembled.rate,
        chunks=len(chunks),
        requests=stats.get("requests", 0),
        retries=stats.get("retries", 0),
        cache_hits=stats.get("cache_hits", 0),
        joins=assembled.joins,
        cues=assembled.cues,
    )


@dataclass
class Assembled:
    frames: int
    rate: int
    joins: list[float]
    cues: list[Cue]


def assemble(items: Sequence[Item], audios: Iterator[Audio], sink: Sink, *, rate: int | None = None,
             join: JoinSettings = JoinSettings(), on_progress: ProgressCallback | None = None) -> Assembled:
    """Write ``items`` into ``sink``: each chunk's audio (the next of ``audios``) joined to the
    previous one, each pause as exact silence; the sink is closed, or aborted on any failure.

    Separate from ``speak`` so a caller can make the audio of many texts in one stream of
    requests (a book: no pause in the requests between chapters) and assemble each on its own.
    """
    joiner = Joiner(rate, join)
    total = sum(1 for item in items if isinstance(item, str))
    cues: list[Cue] = []
    cue_end = 0  # samples: cues never overlap, even where chunks cross-fade
    waiting = 0.0  # seconds of silence asked for before the first audio fixes the rate
    done = 0
    try:
        for item in items:
            if isinstance(item, Pause):
                if done == 0:
                    waiting += item.seconds
                else:
                    sink.write(joiner.pause(round(item.seconds * joiner.rate)))
                continue
            audio = next(audios)
            if done == 0:
                if joiner.rate is None:  # the engine's rate, unless the sink's encoder cannot take it
                    joiner.rate = sink.rate_for(audio.rate)
                sink.open(joiner.rate)
                if waiting:
                    sink.write(joiner.pause(round(waiting * joiner.rate)))
            sink.write(joiner.add(audio))
            done += 1
            cue_end = _sentence_cues(item, joiner, audio.sentence_bounds, cue_end, cues)
            if on_progress:
                on_progress(done, total, joiner.frames_out / joiner.rate)
        sink.write(joiner.finish())
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return Assembled(joiner.frames_out, joiner.rate, [index / joiner.rate for index in joiner.joins], cues)


def _sentence_cues(chunk: str, joiner: Joiner, bounds: Sequence[float], not_before: int,
                   cues: list[Cue]) -> int:
    """Append the cues of the chunk ``joiner`` just added; return where the last ends (samples).

    Where the engine said when each sentence gives way to the next (``Audio.sentence_bounds``,
    the local engine's aligner), those times are used, moved as the joiner moved the chunk;
    otherwise the chunk's time is shared among its sentences by their characters.
    """
    parts = sentences(chunk) or [chunk.strip()]
    rate = joiner.rate
    start, end = max(joiner.last_span[0], not_before), joiner.last_span[1]
    if len(bounds) == len(parts) - 1 and all(map(math.isfinite, bounds)):
        offset = joiner.last_span[0] - joiner.last_trim
        edges = [start]
        for bound in bounds:  # never before the previous edge, never outside the chunk
            edges.append(min(max(offset + round(bound * rate), edges[-1]), end))
        edges.append(end)
    else:
        weights = sum(len(part) for part in parts)
        edges = [start + (end - start) * chars / weights for chars in accumulate((len(p) for p in parts), initial=0)]
    for part, (begin, until) in zip(parts, zip(edges, edges[1:])):
        cues.append(Cue(round(begin) / rate, round(until) / rate, part))
    return end
