"""A book run: chapters -> speech -> chapter WAVs on disk -> one loudness -> the book file(s).

1. Every chapter is turned into its chunks and pauses (title, ``title_pause``, body).
2. The chunks of every chapter still to do go to the engine as one ordered stream of requests
   on ``jobs`` workers (the shared engine: one connection pool, rate gate and response cache),
   so the workers never idle at a chapter's end. Each chapter is assembled (``speech.assemble``)
   into a WAV in the work folder, and measured for loudness as it is written; then its record
   (hash, length, sentence cues, loudness) is written next to it. A chapter whose record
   matches is never made again.
3. Loudness: the chapters' measurements combine into the whole book's integrated loudness
   and true peak, which set one gain (``book.gain``). The output is then written from the
   chapter WAVs, block by block, times that gain, so memory stays flat however long the book is.
4. m4b and ``-d DIR``: each chapter is encoded as soon as it is made, at the gain the chapters
   so far call for (``pieces``), while the engine speaks the next ones; only pieces whose gain
   turns out wrong are encoded again at the end. One-file MP3, WAV, FLAC and Ogg are written
   after the last chapter, in one pass.

The work folder (``.NAME.voiceclone-book/`` next to ``-o NAME``, or ``DIR/.voiceclone-book/``)
is what makes a killed run resume: finished chapters and pieces are on disk, and the chunks of
the chapter that was cut off are in the response cache. Assembly and encoding are
deterministic, so the resumed book is identical to an uninterrupted one. The work folder is
removed once the book is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voiceclone_cli.book.encoder import chapter_blocks
from voiceclone_cli.book.gain import GainPlan
from voiceclone_cli.book.model import Book, Chapter
from voiceclone_cli.book.pieces import M4B, PieceStream
from voiceclone_cli.book.writing import (
    CHAPTER_GAP_SECONDS,
    BookPieces,
    ChapterResult,
    m4b_join,
    write_chapter_files,
    write_one_file,
    write_subtitles,
)
from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.formats import FORMATS, OutputFormat
from voiceclone_cli.prepare.markup import Pause, Segment

log = logging.getLogger("voiceclone.book")

WORK_VERSION = 1  # bump when what a chapter record covers changes


@dataclass(frozen=True)
class BookOptions:
    output: Path | None = None  # one file (-o) ...
    outdir: Path | None = None  # ... or one file per chapter (-d)
    format_name: str = "mp3"  # m4b, or a name in output.formats.FORMATS
    speed: float = 1.0
    pitch: float = 0.0
    jobs: int = 2
    title_pause: float = 1.5
    loudness: float | None = -18.0  # LUFS; None: leave the level as made
    use_markup: bool = True
    lexicon: Any = None  # prepare.lexicon.Lexicon
    srt: Path | None = None
    vtt: Path | None = None
    keep_work: bool = False  # keep the chapter WAVs after the book is written (tests, debugging)


@dataclass
class BookProgress:
    chapter: int  # position among the chapters of this run, 1-based
    chapters: int
    title: str
    audio_seconds: float  # made so far in this run and before it
    eta_seconds: float | None  # from the pace of real requests in this run


@dataclass
class BookSummary:
    output: Path
    chapters: list[ChapterResult]
    seconds: float
    rate: int
    made: int  # chapters made in this run
    resumed: int  # chapters already made by an earlier run
    requests: int
    retries: int
    cache_hits: int
    loudness_lufs: float | None  # measured before the gain
    gain_db: float
    true_peak_dbtp: float | None  # after the gain
    elapsed_seconds: float
    synthesis_seconds: float  # of elapsed: making the chapters (the rest: loudness and encoding)
    subtitles: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output), "seconds": round(self.seconds, 3), "sample_rate": self.rate,
            "chapters": [{"number": c.number, "title": c.title, "seconds": round(c.seconds, 3),
                          "start": round(c.start, 3), **({"file": c.file} if c.file else {})}
                         for c in self.chapters],
            "made": self.made, "resumed": self.resumed, "requests": self.requests,
            "retries": self.retries, "cache_hits": self.cache_hits,
            "loudness_lufs": None if self.loudness_lufs is None else round(self.loudness_lufs, 2),
            "gain_db": round(self.gain_db, 2),
            "true_peak_dbtp": None if self.true_peak_dbtp is None else round(self.true_peak_dbtp, 2),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "synthesis_seconds": round(self.synthesis_seconds, 3),
            "subtitles": [str(p) for p in self.subtitles],
        }


def chapter_segments(chapter: Chapter, *, title_pause: float, use_markup: bool) -> list[Segment]:
    """What a chapter says: its title, a pause, then its text (markup parsed unless off)."""
    from voiceclone_cli.prepare import markup

    body = markup.parse_markup(chapter.text) if use_markup else [chapter.text]
    title = chapter.title.strip()
    head: list[Segment] = [title, Pause(title_pause)] if title else []
    return [*head, *body]


def work_folder(options: BookOptions) -> Path:
    if options.outdir is not None:
        return options.outdir / ".voiceclone-book"
    return options.output.parent / f".{options.output.name}.voiceclone-book"


@dataclass
class _Chapter:
    """One chapter of this run: its items, identity and work files."""

    chapter: Chapter
    items: list
    key: str
    wav: Path
    record: Path
    frames: int = 0
    rate: int = 0
    cues: list = field(default_factory=list)
    loudness: Any = None  # audio.loudness.Measurement, once measured

    @property
    def chunks(self) -> list[str]:
        return [item for item in self.items if isinstance(item, str)]

    @property
    def characters(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


def _plan(chapters: list[Chapter], engine: Engine, voice_id: str, options: BookOptions,
          work: Path) -> list[_Chapter]:
    from voiceclone_cli.speech import speech_items

    planned = []
    for position, chapter in enumerate(chapters, start=1):
        segments = chapter_segments(chapter, title_pause=options.title_pause, use_markup=options.use_markup)
        items = speech_items(segments, engine, lexicon=options.lexicon)
        identity = {
            "v": WORK_VERSION, "items": [i if isinstance(i, str) else {"pause": i.seconds} for i in items],
            "voice": voice_id, "speed": options.speed, "pitch": options.pitch, "engine": engine.name,
            "endpoint": getattr(engine, "endpoint", ""), "version": getattr(engine, "version", ""),
        }
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        stem = f"{position:04d}"
        planned.append(_Chapter(chapter, items, key, work / f"{stem}.wav", work / f"{stem}.json"))
    return planned


def _load_record(part: _Chapter) -> bool:
    """Whether ``part`` is already made: its record matches and its WAV is whole."""
    import soundfile as sf

    try:
        record = json.loads(part.record.read_text("utf-8"))
        if record.get("key") != part.key or sf.info(part.wav).frames != record["frames"]:
            return False
        from voiceclone_cli.speech import Cue

        part.frames, part.rate = int(record["frames"]), int(record["rate"])
        part.cues = [Cue(*cue) for cue in record["cues"]]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return False
    try:
        from voiceclone_cli.audio.loudness import Measurement

        part.loudness = Measurement.from_dict(record["loudness"]) if record.get("loudness") else None
    except (ValueError, KeyError, TypeError):
        part.loudness = None  # measured again from the WAV when it is needed
    return True


def _write_record(part: _Chapter) -> None:
    from voiceclone_cli.output.atomic import atomic_write_bytes

    record = {"key": part.key, "frames": part.frames, "rate": part.rate,
              "cues": [[c.start, c.end, c.text] for c in part.cues],
              "loudness": part.loudness.to_dict() if part.loudness is not None else None}
    atomic_write_bytes(part.record, json.dumps(record).encode("utf-8"))


def _measured(part: _Chapter):
    """The chapter's loudness: measured when it was made, or now from its WAV."""
    from voiceclone_cli.audio.loudness import LoudnessMeter

    if part.loudness is None or part.loudness.rate != part.rate:
        meter = LoudnessMeter(part.rate)
        for block in chapter_blocks(part.wav, 1.0):
            meter.add(block)
        part.loudness = meter.finish()
        _write_record(part)
    return part.loudness


class _ChapterSink:
    """A chapter WAV in the work folder, at a rate the final format can hold, measured for
    loudness as it is written (exactly the 16-bit samples the file holds)."""

    def __init__(self, path: Path, final: OutputFormat | None, expected_seconds: float, *, measure: bool,
                 stream: PieceStream | None = None) -> None:
        from voiceclone_cli.output.sinks import AudioFileSink

        self._file = AudioFileSink(path, FORMATS["wav"], expected_seconds=expected_seconds)
        self._final = final
        self._measure = measure
        self.meter = None
        self.stream = stream  # the chapter's piece, encoded as the file grows
        self.close = self._file.close

    def abort(self) -> None:
        if self.stream is not None:
            self.stream.abort()
        self._file.abort()

    def rate_for(self, rate: int) -> int:
        return self._final.rate_for(rate) if self._final is not None else rate

    def open(self, rate: int) -> None:
        from voiceclone_cli.audio.loudness import LoudnessMeter

        self._file.open(rate)
        self.meter = LoudnessMeter(rate) if self._measure else None
        if self.stream is not None:
            self.stream.start(self._file.temp_path, self._file.path)

    def write(self, samples: np.ndarray) -> None:
        from voiceclone_cli.audio.wav import to_pcm16

        self._file.write(samples)
        if self.meter is not None and len(samples):
            self.meter.add(np.frombuffer(to_pcm16(samples), "<i2").astype(np.float32) / 32768.0)
        if self.stream is not None and len(samples):
            self.stream.grown(self._file.frames)


def run_book(
    book: Book,
    chapters: list[Chapter],
    engine: Engine,
    voice: Any,
    options: BookOptions,
    *,
    on_progress: Callable[[BookProgress], None] | None = None,
) -> BookSummary:
    """Speak ``chapters`` of ``book`` into ``options.output`` or ``options.outdir``.

    Output paths are checked by the caller (``output.plan.inspect_output``) before any work.
    """
    from voiceclone_cli.engines.base import threads_for
    from voiceclone_cli.engines.cached import sample_of
    from voiceclone_cli.output.atomic import remove_stale_temps
    from voiceclone_cli.prefetch import OrderedPrefetcher
    from voiceclone_cli.prepare.estimate import estimate_seconds
    from voiceclone_cli.speech import assemble

    started = time.monotonic()
    work = work_folder(options)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the work folder {work}: {exc.strerror}") from None
    measure = options.loudness is not None
    with _WorkLock(work):
        removed = remove_stale_temps(work)
        if removed:
            log.info("removed %d unfinished temp file%s left by a run that was killed",
                     removed, "" if removed == 1 else "s")
        parts = _plan(chapters, engine, sample_of(voice).sha256, options, work)
        done = [_load_record(part) for part in parts]
        todo = [part for part, finished in zip(parts, done) if not finished]
        final = None if options.format_name == M4B else FORMATS[options.format_name]
        rate = next((part.rate for part, finished in zip(parts, done) if finished), None)
        made_seconds = sum(part.frames / part.rate for part, finished in zip(parts, done) if finished)
        chars_todo = sum(len(c) for part in todo for c in part.chunks)
        chars_done = 0
        run_started = time.monotonic()
        workers = max(1, min(options.jobs, engine.max_workers))
        if workers < options.jobs:
            log.info("running %d jobs at once, the most the %s engine can use (-j %d asked)",
                     workers, engine.name, options.jobs)
        results = OrderedPrefetcher(
            lambda chunk: engine.synthesize(chunk, voice, speed=options.speed, pitch=options.pitch),
            (chunk for part in todo for chunk in part.chunks),
            # Twice the workers: no worker waits while a long chunk holds the head of the line
            # or while the last answer is being assembled.
            workers=threads_for(engine, workers), ahead=2 * workers, first_alone=engine.cpu_bound,
        )
        audio = iter(results)
        threading.Thread(target=_load_output_modules, args=(measure,), name="voiceclone-book-imports",
                         daemon=True).start()
        pieces: BookPieces | None = None
        plan = GainPlan(options.loudness)
        try:
            index = 0
            for position, part in enumerate(parts):
                streamed = None
                if not done[position]:
                    index += 1
                    base_seconds = made_seconds
                    chunk_chars = [len(c) for c in part.chunks]

                    def progress(chunks_done: int, _total: int, seconds: float, part=part, index=index,
                                 base=base_seconds, chunk_chars=chunk_chars) -> None:
                        if on_progress is None:
                            return
                        so_far = chars_done + sum(chunk_chars[:chunks_done])
                        elapsed = time.monotonic() - run_started
                        eta = elapsed / so_far * (chars_todo - so_far) if so_far else None
                        on_progress(BookProgress(index, len(todo), part.chapter.title, base + seconds, eta))

                    sink = _ChapterSink(part.wav, final, estimate_seconds(sum(chunk_chars), options.speed) * 3,
                                        measure=measure,
                                        stream=pieces.start_stream(parts[:position]) if pieces is not None else None)
                    streamed = sink.stream
                    assembled = assemble(part.items, audio, sink, rate=rate, on_progress=progress)
                    rate = assembled.rate
                    part.frames, part.rate, part.cues = assembled.frames, assembled.rate, assembled.cues
                    part.loudness = sink.meter.finish() if sink.meter is not None else None
                    _write_record(part)
                    made_seconds += part.frames / part.rate
                    chars_done += sum(chunk_chars)
                if pieces is None and (options.format_name == M4B or options.outdir is not None):
                    join = m4b_join(book, options) if options.outdir is None else None
                    pieces = BookPieces(work, options.format_name, rate, parts, join=join)
                so_far = parts[:position + 1]
                gain_db = plan.gain_for(_loudness_of(so_far) if measure else None)
                if pieces is not None:  # encode chapters now, at the gain the book so far needs
                    pieces.ensure(so_far, gain_db, only_new=True, streamed=streamed)
                    pieces.join_ready()
            synthesis_seconds = time.monotonic() - started
            loudness = _loudness_of(parts) if measure and parts else None
            gain_db = plan.gain_for(loudness)
            if pieces is not None:
                pieces.ensure(parts, gain_db)
                pieces.maker.wait()
            if options.outdir is not None:
                results_list, output = write_chapter_files(book, parts, options, pieces, gain_db), options.outdir
            else:
                results_list, output = write_one_file(book, parts, options, gain_db, pieces, staging=work), options.output
        finally:
            results.close()
            if pieces is not None:
                pieces.close()
        subtitles = write_subtitles(parts, results_list, options)
    if not options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    stats = engine.stats()
    peak = None if loudness is None else loudness.true_peak_dbtp + gain_db
    return BookSummary(
        output=output, chapters=results_list,
        seconds=results_list[-1].start + results_list[-1].seconds if results_list else 0.0,
        rate=rate or 0, made=len(todo), resumed=len(parts) - len(todo),
        requests=stats.get("requests", 0), retries=stats.get("retries", 0),
        cache_hits=stats.get("cache_hits", 0),
        loudness_lufs=None if loudness is None else loudness.integrated_lufs, gain_db=gain_db,
        true_peak_dbtp=peak, elapsed_seconds=time.monotonic() - started,
        synthesis_seconds=synthesis_seconds, subtitles=subtitles,
    )


def _load_output_modules(measure: bool) -> None:
    """Import what writing and measuring the first chunk needs while the first requests are out
    (~0.2 s, which would otherwise hold up the workers as the first answers come in). In a
    thread of its own, so the first requests are not held up either."""
    import soundfile  # noqa: F401

    import voiceclone_cli.output.sinks  # noqa: F401

    if measure:
        import av.filter  # noqa: F401  (the meter's K-weighting)


def _loudness_of(parts: list[_Chapter]):
    from voiceclone_cli.audio.loudness import combined

    return combined([_measured(part) for part in parts], CHAPTER_GAP_SECONDS)


class _WorkLock:
    """Two runs on one work folder would write the same chapter files: the second is refused."""

    def __init__(self, work: Path) -> None:
        self.path = work / "lock"
        self._fd: int | None = None

    def __enter__(self) -> _WorkLock:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks
            return self
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise OutputError(f"another voiceclone book is writing {self.path.parent}",
                              hint="wait for it to finish") from None
        except OSError as exc:
            raise OutputError(f"cannot use the work folder {self.path.parent}: {exc.strerror}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class BookPlan:
    chapters: int
    chunks: int
    characters: int
    cached: int
    audio_seconds: float
    resumed: int  # chapters already made by an earlier run (no request)

    @property
    def requests(self) -> int:
        return self.chunks - self.cached


def plan_book(chapters: list[Chapter], engine: Engine, voice: Any, options: BookOptions) -> BookPlan:
    """What ``run_book`` would send, without sending or writing anything (``--dry-run``)."""
    from voiceclone_cli.engines.cached import sample_of
    from voiceclone_cli.prepare.estimate import estimate_seconds

    parts = _plan(chapters, engine, sample_of(voice).sha256, options, work_folder(options))
    is_cached = getattr(engine, "is_cached", None)
    chunks = cached = characters = resumed = 0
    for part in parts:
        if _load_record(part):
            resumed += 1
            continue
        for chunk in part.chunks:
            chunks += 1
            characters += len(chunk)
            if is_cached and is_cached(chunk, voice, speed=options.speed, pitch=options.pitch):
                cached += 1
    total_chars = sum(len(c) for part in parts for c in part.chunks)
    return BookPlan(len(parts), chunks, characters, cached, estimate_seconds(total_chars, options.speed), resumed)
