"""A book run: chapters -> speech -> chapter WAVs on disk -> one loudness -> the book file(s).

1. Every chapter is turned into its chunks and pauses (title, ``title_pause``, body).
2. The chunks of every chapter still to do go to the engine as one ordered stream of requests
   on ``jobs`` workers (the shared engine: one connection pool, rate gate and response cache),
   so the workers never idle at a chapter's end. Each chapter is assembled (``speech.assemble``)
   into a WAV in the work folder, then its record (hash, length, sentence cues) is written next
   to it. A chapter whose record matches is never made again.
3. Loudness, pass 1: the integrated loudness and true peak of the whole book, read back from
   the chapter WAVs block by block. Pass 2: the same blocks, times one gain, into the output.

The work folder (``.NAME.voiceclone-book/`` next to ``-o NAME``, or ``DIR/.voiceclone-book/``)
is what makes a killed run resume: finished chapters are on disk, and the chunks of the chapter
that was cut off are in the response cache. Assembly is deterministic, so the resumed book is
identical to an uninterrupted one. The work folder is removed once the book is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voiceclone_cli.book.model import Book, Chapter
from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.formats import FORMATS, OutputFormat
from voiceclone_cli.prepare.markup import Pause, Segment

log = logging.getLogger("voiceclone.book")

CHAPTER_GAP_SECONDS = 2.0  # silence between chapters in a one-file book
TRUE_PEAK_CEILING_DBTP = -1.0
BLOCK_FRAMES = 1 << 16
WORK_VERSION = 1  # bump when what a chapter record covers changes
M4B = "m4b"


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
class ChapterResult:
    number: int
    title: str
    seconds: float
    start: float  # in the one-file book
    file: str | None = None  # with -d: its file name in DIR


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


def chapter_file_name(position: int, chapter: Chapter, count: int, fmt: str) -> str:
    from voiceclone_cli.batch.naming import slugify

    width = max(2, len(str(count)))
    return f"{position:0{width}d}-{slugify(chapter.title)}.{fmt}"


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

    @property
    def chunks(self) -> list[str]:
        return [item for item in self.items if isinstance(item, str)]


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
        return True
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return False


class _ChapterSink:
    """A chapter WAV in the work folder, at a rate the final format can hold."""

    def __init__(self, path: Path, final: OutputFormat | None, expected_seconds: float) -> None:
        from voiceclone_cli.output.sinks import AudioFileSink

        self._file = AudioFileSink(path, FORMATS["wav"], expected_seconds=expected_seconds)
        self._final = final
        self.open, self.write, self.close, self.abort = (
            self._file.open, self._file.write, self._file.close, self._file.abort)

    def rate_for(self, rate: int) -> int:
        return self._final.rate_for(rate) if self._final is not None else rate


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
    from voiceclone_cli.engines.cached import sample_of
    from voiceclone_cli.output.atomic import atomic_write_bytes, remove_stale_temps
    from voiceclone_cli.prefetch import OrderedPrefetcher
    from voiceclone_cli.prepare.estimate import estimate_seconds
    from voiceclone_cli.speech import assemble

    started = time.monotonic()
    work = work_folder(options)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the work folder {work}: {exc.strerror}") from None
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
            workers=workers, first_alone=engine.cpu_bound,
        )
        audio = iter(results)
        try:
            for index, part in enumerate(todo, start=1):
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

                sink = _ChapterSink(part.wav, final, estimate_seconds(sum(chunk_chars), options.speed) * 3)
                assembled = assemble(part.items, audio, sink, rate=rate, on_progress=progress)
                rate = assembled.rate
                part.frames, part.rate, part.cues = assembled.frames, assembled.rate, assembled.cues
                record = {"key": part.key, "frames": part.frames, "rate": part.rate,
                          "cues": [[c.start, c.end, c.text] for c in part.cues]}
                atomic_write_bytes(part.record, json.dumps(record).encode("utf-8"))
                made_seconds += part.frames / part.rate
                chars_done += sum(chunk_chars)
        finally:
            results.close()
        synthesis_seconds = time.monotonic() - started
        loudness, gain_db = _measure(parts, options.loudness)
        if options.outdir is not None:
            results_list, output = _write_chapter_files(book, parts, options, gain_db), options.outdir
        else:
            results_list, output = _write_one_file(book, parts, options, gain_db), options.output
        subtitles = _write_subtitles(parts, results_list, options)
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


def _chapter_blocks(path: Path, gain: float) -> Iterator[np.ndarray]:
    import soundfile as sf

    try:
        with sf.SoundFile(path) as source:
            for block in source.blocks(BLOCK_FRAMES, dtype="float32"):
                yield block * gain if gain != 1.0 else block
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"cannot read the chapter audio {path}: {exc}",
                          hint="run the same command again: the chapter is made anew") from None


def _measure(parts: list[_Chapter], target: float | None):
    """Pass 1: the book's loudness and the one gain (dB) that brings it to ``target``."""
    from voiceclone_cli.audio.loudness import LoudnessMeter, gain_for

    if target is None or not parts:
        return None, 0.0
    meter = LoudnessMeter(parts[0].rate)
    for part in parts:
        for block in _chapter_blocks(part.wav, 1.0):
            meter.add(block)
    measured = meter.result()
    return measured, gain_for(measured, target, TRUE_PEAK_CEILING_DBTP)


def _book_blocks(parts: list[_Chapter], gain_db: float) -> Iterator[np.ndarray]:
    """Pass 2: every chapter, times the gain, with the chapter gap between them."""
    gain = 10 ** (gain_db / 20)
    for number, part in enumerate(parts):
        if number:
            yield np.zeros(round(CHAPTER_GAP_SECONDS * part.rate), dtype=np.float32)
        yield from _chapter_blocks(part.wav, gain)


def _timeline(parts: list[_Chapter]) -> list[ChapterResult]:
    results, start = [], 0
    for part in parts:
        results.append(ChapterResult(part.chapter.number, part.chapter.title, part.frames / part.rate,
                                     start / part.rate))
        start += part.frames + round(CHAPTER_GAP_SECONDS * part.rate)
    return results


def _write_one_file(book: Book, parts: list[_Chapter], options: BookOptions, gain_db: float) -> list[ChapterResult]:
    from voiceclone_cli.output.chapters import BookInfo, ChapterMark, write_m4b, write_mp3_with_chapters
    from voiceclone_cli.output.sinks import AudioFileSink

    timeline = _timeline(parts)
    rate = parts[0].rate
    total = timeline[-1].start + timeline[-1].seconds
    marks = [ChapterMark(c.title, c.start, timeline[i + 1].start if i + 1 < len(timeline) else total)
             for i, c in enumerate(timeline)]
    info = BookInfo(book.title, book.author, book.cover, book.cover_mime)
    target = options.output  # the caller resolved links (output.plan.inspect_output)
    if options.format_name == M4B:
        write_m4b(target, _book_blocks(parts, gain_db), rate, marks, info, shown=options.output)
        return timeline
    fmt = FORMATS[options.format_name]
    staging = work_folder(options) / f"book.{fmt.name}" if fmt.name == "mp3" else target
    sink = AudioFileSink(staging, fmt, shown=options.output, expected_seconds=total)
    sink.open(rate)
    try:
        for block in _book_blocks(parts, gain_db):
            sink.write(block)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    if fmt.name == "mp3":
        write_mp3_with_chapters(target, staging, marks, info, shown=options.output)
        staging.unlink(missing_ok=True)
    return timeline


def _write_chapter_files(book: Book, parts: list[_Chapter], options: BookOptions, gain_db: float) -> list[ChapterResult]:
    from voiceclone_cli.output.atomic import atomic_write_bytes, remove_stale_temps
    from voiceclone_cli.output.sinks import AudioFileSink

    fmt = FORMATS[options.format_name]
    gain = 10 ** (gain_db / 20)
    names = {chapter_file_name(position, part.chapter, len(parts), fmt.name)
             for position, part in enumerate(parts, start=1)} | {"chapters.json"}
    remove_stale_temps(options.outdir, targets=names.__contains__)  # left by a run killed mid-write
    results = []
    for position, (part, timed) in enumerate(zip(parts, _timeline(parts)), start=1):
        name = chapter_file_name(position, part.chapter, len(parts), fmt.name)
        sink = AudioFileSink(options.outdir / name, fmt, expected_seconds=part.frames / part.rate)
        sink.open(part.rate)
        try:
            for block in _chapter_blocks(part.wav, gain):
                sink.write(block)
            sink.close()
        except BaseException:
            sink.abort()
            raise
        timed.file = name
        results.append(timed)
    listing = {"title": book.title, "author": book.author, "sample_rate": parts[0].rate if parts else None,
               "loudness_gain_db": round(gain_db, 2),
               "chapters": [{"number": r.number, "title": r.title, "file": r.file, "seconds": round(r.seconds, 3)}
                            for r in results]}
    atomic_write_bytes(options.outdir / "chapters.json",
                       (json.dumps(listing, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return results


def _write_subtitles(parts: list[_Chapter], timeline: list[ChapterResult], options: BookOptions) -> list[Path]:
    """Cues on the one-file book's timeline (gain does not move time)."""
    from voiceclone_cli.output.subtitles import write_subtitles
    from voiceclone_cli.speech import Cue

    if options.srt is None and options.vtt is None:
        return []
    cues = [Cue(cue.start + timed.start, cue.end + timed.start, cue.text)
            for part, timed in zip(parts, timeline) for cue in part.cues]
    write_subtitles(cues, srt=options.srt, vtt=options.vtt)
    return [p for p in (options.srt, options.vtt) if p is not None]


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
