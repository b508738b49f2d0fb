"""The book's output stage: the finished chapters, at the book's gain, into the file(s).

A chapter here is ``job._Chapter`` (its WAV, rate, frames, cues and key); ``options`` is
``job.BookOptions``. One file: m4b from the pieces encoded during the run (``BookPieces``), the
other formats in one pass over the chapter WAVs. ``-d DIR``: the chapter files encoded during
the run, moved into DIR, and ``chapters.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voiceclone_cli.book.encoder import chapter_blocks
from voiceclone_cli.book.model import Chapter
from voiceclone_cli.book.pieces import M4B, EncoderProcess, PieceMaker, PieceSpec, PieceStream, m4b_layout
from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.formats import FORMATS

if TYPE_CHECKING:
    from voiceclone_cli.output.chapters import BookInfo, M4bJoin

CHAPTER_GAP_SECONDS = 2.0  # silence between chapters in a one-file book
SETTLE_SHARE = 0.25  # chapters are encoded once this share of the book is made (BookPieces.ensure)


@dataclass
class ChapterResult:
    number: int
    title: str
    seconds: float
    start: float  # in the one-file book
    file: str | None = None  # with -d: its file name in DIR


def chapter_file_name(position: int, chapter: Chapter, count: int, fmt: str) -> str:
    from voiceclone_cli.batch.naming import slugify

    width = max(2, len(str(count)))
    return f"{position:0{width}d}-{slugify(chapter.title)}.{fmt}"


class BookPieces:
    """The encoded pieces of an m4b, or the chapter files of ``-d DIR`` (``book.pieces``)."""

    def __init__(self, work: Path, format_name: str, rate: int, parts: list,
                 join: Callable[[], M4bJoin] | None = None) -> None:
        """``join``: opens the one-file m4b, which is then joined piece by piece during the run."""
        self.format = format_name
        self.chapters = len(parts)
        self.characters = sum(part.characters for part in parts)
        self.handed_out = 0  # pieces 1..handed_out have been given to the encoders ...
        self.handed_gain: float | None = None  # ... at this gain
        self.gap = round(CHAPTER_GAP_SECONDS * rate)
        self.maker = PieceMaker(work, self.format, rate, workers=os.cpu_count() or 1)
        self.pieces: list[tuple[PieceSpec, int]] = []  # with the frames each piece holds
        self._open_join = join
        self._join: M4bJoin | None = None
        self._joined: list[PieceSpec] = []  # the pieces in the join so far
        self._last = parts[-1]  # its frames are known once it is made (or resumed)
        self._stream_process: EncoderProcess | None = None
        self._stream_answers = ThreadPoolExecutor(1, thread_name_prefix="voiceclone-stream")

    def start_stream(self, parts_before: list) -> PieceStream | None:
        """For the book's last chapter (after ``parts_before``): its piece, encoded while it is
        made, at the gain the book has now; else None.

        Only the last: nothing else overlaps its encoding, which used to come after the last
        request. Earlier chapters go to the encoders once made, where a backlog (after a moved
        gain, on a busy machine) is shared by every core rather than trailing in one stream.
        """
        from voiceclone_cli.output.chapters import AAC_FRAME

        if self.handed_gain is None or len(parts_before) + 1 != self.chapters:
            return None
        lead = 0
        if self.format == M4B:
            lead = m4b_layout([part.frames for part in parts_before] + [0], self.chapters, self.gap, AAC_FRAME)[-1][0]
        if self._stream_process is None:
            self._stream_process = EncoderProcess()
        number = len(parts_before) + 1
        return PieceStream(self._stream_process, self._stream_answers, self.maker.stream_path(number),
                           self.handed_gain, lead, self.format, self.maker.rate)

    def ensure(self, parts: list, gain_db: float, *, only_new: bool = False,
               streamed: PieceStream | None = None) -> None:
        """Pieces for ``parts`` (the first chapters of the book) at ``gain_db``; ``only_new``:
        only for chapters not handed out before (all of them if the gain moved), and not
        before the chapters so far are ``SETTLE_SHARE`` of the book, when a first guess at the
        gain is worth encoding at. Each chapter is so encoded while the book is spoken, at the
        gain of the chapters up to it (the same in a resumed run, which so finds it)."""
        from voiceclone_cli.output.chapters import AAC_FRAME

        if self.format == M4B:
            layout = m4b_layout([part.frames for part in parts], self.chapters, self.gap, AAC_FRAME)
        else:
            layout = [(0, 0)] * len(parts)
        self.pieces = [(PieceSpec(str(part.wav), part.key, round(gain_db, 6), lead, tail, self.format),
                        lead + part.frames + tail) for part, (lead, tail) in zip(parts, layout)]
        if streamed is not None:  # the last of ``parts``, encoded as it was made: keep it if it fits
            number, (spec, _frames) = len(parts), self.pieces[-1]
            final = self.maker.path(number, spec)
            if (streamed.gain_db, streamed.lead) == (spec.gain_db, spec.lead) and not final.exists():
                self.maker.adopt(number, spec, streamed.finish(parts[-1].frames, spec.tail, final))
            else:
                streamed.abort()
        if only_new:
            made = sum(part.characters for part in parts)
            if made < SETTLE_SHARE * self.characters and len(parts) < self.chapters:
                return
        # A moved guess re-encodes the earlier pieces at once, while the engine still speaks
        # and the encoders have time, rather than after the last chapter.
        moved = gain_db != self.handed_gain
        for number, (spec, _frames) in enumerate(self.pieces, start=1):
            if number > self.handed_out or moved or not only_new:
                self.maker.ensure(number, spec)
        self.handed_out, self.handed_gain = max(self.handed_out, len(self.pieces)), gain_db
        if self._stream_process is None and len(parts) < self.chapters and not self._last.frames:
            # started early, ready when the last chapter begins; not if a resumed run has it
            self._stream_process = EncoderProcess()

    def files(self) -> list[tuple[Path, int]]:
        """(path, frames) of every piece, once ``maker.wait()`` has returned."""
        return [(self.maker.path(number, spec), frames) for number, (spec, frames) in enumerate(self.pieces, start=1)]

    def join_ready(self) -> None:
        """Join the pieces encoded so far, in order, into the m4b: at the end only the last
        ones are left to join. A piece joined at a gain the book no longer has starts the join
        over (rare: the gain guess holds within its tolerance)."""
        if self._open_join is None:
            return
        if any(joined != spec for joined, (spec, _frames) in zip(self._joined, self.pieces)):
            self._restart_join()
        for number in range(len(self._joined) + 1, len(self.pieces) + 1):
            spec, frames = self.pieces[number - 1]
            if not self.maker.finished(number, spec):
                return
            if self._join is None:
                self._join = self._open_join()
            self._join.append(self.maker.path(number, spec), frames)
            self._joined.append(spec)

    def finish_m4b(self, marks: list) -> None:
        """Every piece encoded and joined, then the chapter marks; the m4b is in place."""
        self.maker.wait()
        self.join_ready()
        if len(self._joined) != len(self.pieces):  # pragma: no cover - every piece is finished now
            raise OutputError("a piece of the book was not encoded", hint="run the same command again")
        self._join.finish(marks)
        self._join = None

    def close(self) -> None:
        """Stop the encoders and remove an unfinished m4b."""
        self.maker.close(also=[self._stream_process] if self._stream_process is not None else [])
        self._stream_answers.shutdown(wait=True, cancel_futures=True)
        self._restart_join()

    def _restart_join(self) -> None:
        if self._join is not None:
            self._join.abort()
        self._join, self._joined = None, []


def book_blocks(parts: list, gain_db: float) -> Iterator[np.ndarray]:
    """Every chapter, times the gain, with the chapter gap between them."""
    gain = 10 ** (gain_db / 20)
    for number, part in enumerate(parts):
        if number:
            yield np.zeros(round(CHAPTER_GAP_SECONDS * part.rate), dtype=np.float32)
        yield from chapter_blocks(part.wav, gain)


def chapter_timeline(parts: list) -> list[ChapterResult]:
    results, start = [], 0
    for part in parts:
        results.append(ChapterResult(part.chapter.number, part.chapter.title, part.frames / part.rate,
                                     start / part.rate))
        start += part.frames + round(CHAPTER_GAP_SECONDS * part.rate)
    return results


def book_info(book) -> BookInfo:
    from voiceclone_cli.output.chapters import BookInfo

    return BookInfo(book.title, book.author, book.cover, book.cover_mime)


def m4b_join(book, options) -> Callable[[], M4bJoin]:
    """Opens the one-file m4b of ``options.output`` (links resolved by the caller)."""
    from voiceclone_cli.output.chapters import M4bJoin

    return lambda: M4bJoin(options.output, book_info(book), shown=options.output)


def write_one_file(book, parts: list, options, gain_db: float,
                    pieces: BookPieces | None, *, staging: Path) -> list[ChapterResult]:
    from voiceclone_cli.output.chapters import ChapterMark, write_mp3_with_chapters
    from voiceclone_cli.output.sinks import AudioFileSink

    timeline = chapter_timeline(parts)
    rate = parts[0].rate
    total = timeline[-1].start + timeline[-1].seconds
    marks = [ChapterMark(c.title, c.start, timeline[i + 1].start if i + 1 < len(timeline) else total)
             for i, c in enumerate(timeline)]
    target = options.output  # the caller resolved links (output.plan.inspect_output)
    if options.format_name == M4B:
        pieces.finish_m4b(marks)
        return timeline
    fmt = FORMATS[options.format_name]
    staging_file = staging / f"book.{fmt.name}" if fmt.name == "mp3" else target
    sink = AudioFileSink(staging_file, fmt, shown=options.output, expected_seconds=total)
    sink.open(rate)
    try:
        for block in book_blocks(parts, gain_db):
            sink.write(block)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    if fmt.name == "mp3":
        write_mp3_with_chapters(target, staging_file, marks, book_info(book), shown=options.output)
        staging_file.unlink(missing_ok=True)
    return timeline


def write_chapter_files(book, parts: list, options, pieces: BookPieces,
                         gain_db: float) -> list[ChapterResult]:
    """Move the finished chapter files into DIR, then write ``chapters.json``."""
    from voiceclone_cli.output.atomic import atomic_write_bytes, remove_stale_temps

    fmt = FORMATS[options.format_name]
    names = [chapter_file_name(position, part.chapter, len(parts), fmt.name)
             for position, part in enumerate(parts, start=1)]
    remove_stale_temps(options.outdir, targets=set(names + ["chapters.json"]).__contains__)  # a killed run's
    results = []
    for name, (piece, _frames), timed in zip(names, pieces.files(), chapter_timeline(parts)):
        try:
            os.replace(piece, options.outdir / name)
        except OSError as exc:
            raise OutputError(f"cannot write {options.outdir / name}: {exc.strerror}") from None
        timed.file = name
        results.append(timed)
    listing = {"title": book.title, "author": book.author, "sample_rate": parts[0].rate if parts else None,
               "loudness_gain_db": round(gain_db, 2),
               "chapters": [{"number": r.number, "title": r.title, "file": r.file, "seconds": round(r.seconds, 3)}
                            for r in results]}
    atomic_write_bytes(options.outdir / "chapters.json",
                       (json.dumps(listing, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return results


def write_subtitles(parts: list, timeline: list[ChapterResult], options) -> list[Path]:
    """Cues on the one-file book's timeline (gain does not move time)."""
    from voiceclone_cli.output.subtitles import write_subtitles
    from voiceclone_cli.speech import Cue

    if options.srt is None and options.vtt is None:
        return []
    cues = [Cue(cue.start + timed.start, cue.end + timed.start, cue.text)
            for part, timed in zip(parts, timeline) for cue in part.cues]
    write_subtitles(cues, srt=options.srt, vtt=options.vtt)
    return [p for p in (options.srt, options.vtt) if p is not None]
