"""A child process that encodes book pieces, so that encoding runs beside the requests.

In a thread of the book's own process, encoding is slowed about ten-fold: PyAV lets go of the
GIL inside FFmpeg but takes it back for every AAC packet, and each time waits its turn behind
the threads that receive and assemble speech. A process has a GIL of its own.

The protocol is one JSON job a line on stdin and one JSON answer a line on stdout. A job with
``"stream": true`` follows a chapter WAV that is still being written: the lines after it say how
many frames the file holds so far (``{"frames": N}``), then end it (``{"end": true, "frames": N,
"tail": T}``) or give it up (``{"abort": true}``, answered ``{"abandoned": true}``). The child
runs in its own session (Ctrl-C and a closed terminal reach only the parent, which stops it),
gives up a piece on SIGTERM or when its parent is gone, and never leaves a partial file: every
piece is written to a temp file and renamed when whole.

    python -m voiceclone_cli.book.encoder
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BLOCK_FRAMES = 1 << 16


class Stopped(Exception):
    """A piece given up because the book run is ending."""


class Abandoned(Exception):
    """A streamed piece the parent no longer wants (the book's gain moved meanwhile)."""


def encode_piece(job: dict, still_wanted=lambda: True, messages: Messages | None = None) -> None:
    """Write one piece: ``job`` has target, wav, gain_db, lead, tail, format, rate; a streamed
    one (``stream``) has no tail and reads the growing WAV as ``messages`` tell."""
    from voiceclone_cli.output.chapters import encode_aac
    from voiceclone_cli.output.formats import FORMATS
    from voiceclone_cli.output.sinks import AudioFileSink

    target, rate, gain = Path(job["target"]), int(job["rate"]), 10 ** (job["gain_db"] / 20)
    if job.get("stream"):
        final_wav = Path(job["final_wav"]) if job.get("final_wav") else None
        blocks = _streamed_blocks(Path(job["wav"]), final_wav, gain, job["lead"], messages or Messages(iter(())),
                                  still_wanted)
    else:
        blocks = _blocks(Path(job["wav"]), gain, job["lead"], job["tail"], still_wanted)
    if job["format"] == "m4b":
        encode_aac(target, blocks, rate)
        return
    sink = AudioFileSink(target, FORMATS[job["format"]])
    sink.open(rate)
    try:
        for block in blocks:
            sink.write(block)
        sink.close()
    except BaseException:
        sink.abort()
        raise


def _blocks(wav: Path, gain: float, lead: int, tail: int, still_wanted) -> Iterator[np.ndarray]:
    if lead:
        yield np.zeros(lead, dtype=np.float32)
    for block in chapter_blocks(wav, gain):
        if not still_wanted():
            raise Stopped()
        yield block
    if tail:
        yield np.zeros(tail, dtype=np.float32)


class Messages:
    """The lines after a streamed job; ``ended`` once its end (or abort) has been read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def drain(self) -> None:
        """Skip what is left of a stream that failed before its end, up to that end."""
        for line in self._lines:
            message = json.loads(line)
            if message.get("end") or message.get("abort"):
                break
        self.ended = True


def _streamed_blocks(wav: Path, final_wav: Path | None, gain: float, lead: int, messages: Messages,
                     still_wanted) -> Iterator[np.ndarray]:
    """The lead, then the chapter's samples as the parent says they are written, then the tail.

    The samples are read back from the file as 16-bit and scaled exactly as ``chapter_blocks``
    does, so a streamed piece is byte for byte the piece encoded from the finished WAV."""
    from voiceclone_cli.errors import OutputError

    if lead:
        yield np.zeros(lead, dtype=np.float32)
    try:
        try:
            source = open(wav, "rb")
        except FileNotFoundError:  # renamed into place meanwhile: the chapter is whole
            source = open(final_wav or wav, "rb")
        with source:
            start, done = _data_offset(source), 0
            for line in messages:
                if not still_wanted():
                    raise Stopped()
                message = json.loads(line)
                messages.ended = bool(message.get("end") or message.get("abort"))
                if message.get("abort"):
                    raise Abandoned()
                frames = int(message["frames"])
                while done < frames:
                    count = min(frames - done, BLOCK_FRAMES)
                    source.seek(start + 2 * done)
                    data = source.read(2 * count)
                    if len(data) != 2 * count:
                        raise OSError(f"the file holds fewer frames than the {frames} written")
                    block = np.frombuffer(data, "<i2").astype(np.float32) / np.float32(32768.0)
                    yield block * gain if gain != 1.0 else block
                    done += count
                if message.get("end"):
                    if message.get("tail"):
                        yield np.zeros(int(message["tail"]), dtype=np.float32)
                    return
    except OSError as exc:
        raise OutputError(f"cannot read the chapter audio {wav}: {exc}",
                          hint="run the same command again: the chapter is made anew") from None
    raise Stopped()  # the parent closed the pipe mid-piece: it is gone


def _data_offset(source) -> int:
    """Where the samples of a 16-bit mono RIFF/RF64 WAV begin (its header is written first)."""
    import struct

    head = source.read(12)
    if len(head) != 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:] != b"WAVE":
        raise OSError("not a WAV file")
    while True:
        chunk = source.read(8)
        if len(chunk) != 8:
            raise OSError("no data chunk")
        ident, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if ident == b"data":
            return source.tell()
        source.seek(size + (size & 1), 1)


def chapter_blocks(path: Path, gain: float) -> Iterator[np.ndarray]:
    """A chapter's audio from the work folder, block by block, times ``gain``."""
    import soundfile as sf

    from voiceclone_cli.errors import OutputError

    try:
        with sf.SoundFile(path) as source:
            for block in source.blocks(BLOCK_FRAMES, dtype="float32"):
                yield block * gain if gain != 1.0 else block
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"cannot read the chapter audio {path}: {exc}",
                          hint="run the same command again: the chapter is made anew") from None


_stopping = False


def _stop(_signum, _frame) -> None:
    # The flag as well as the exception: a signal handled while FFmpeg calls back into Python
    # can have its exception swallowed there, and the next block checks the flag.
    global _stopping
    _stopping = True
    raise Stopped()


def main() -> int:
    from voiceclone_cli.errors import VoicecloneError

    parent = os.getppid()
    signal.signal(signal.SIGTERM, _stop)
    import voiceclone_cli.output.chapters  # noqa: F401  (loaded before the first job, not during it)
    import av  # noqa: F401
    import soundfile  # noqa: F401

    answers = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the answer channel
    try:
        lines = iter(sys.stdin)
        for line in lines:
            if _stopping:
                return 1
            job, messages = json.loads(line), Messages(lines)
            try:
                encode_piece(job, still_wanted=lambda: not _stopping and os.getppid() == parent,
                             messages=messages)
                answer = {"ok": True}
            except Abandoned:
                answer = {"abandoned": True}
            except VoicecloneError as exc:
                answer = {"error": str(exc), "hint": getattr(exc, "hint", None)}
            if job.get("stream") and not messages.ended:
                messages.drain()  # the answer comes once the parent has ended the stream
            if _stopping:
                return 1
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    except (Stopped, BrokenPipeError, KeyboardInterrupt):
        return 1
    return 0


def run() -> None:
    """``main``, then out without the interpreter's teardown (~60 ms with PyAV and numpy
    loaded, which the book's end would wait for): ``main`` has already renamed or removed every
    file it wrote and flushed every answer, so nothing is left to clean up."""
    code = main()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a late stop has nothing left to stop
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
