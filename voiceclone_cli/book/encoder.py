"""A child process that encodes book pieces, so that encoding runs beside the requests.

In a thread of the book's own process, encoding is slowed about ten-fold: PyAV lets go of the
GIL inside FFmpeg but takes it back for every AAC packet, and each time waits its turn behind
the threads that receive and assemble speech. A process has a GIL of its own.

The protocol is one JSON job a line on stdin and one JSON answer a line on stdout. The child
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


def encode_piece(job: dict, still_wanted=lambda: True) -> None:
    """Write one piece: ``job`` has target, wav, gain_db, lead, tail, format, rate."""
    from voiceclone_cli.output.chapters import encode_aac
    from voiceclone_cli.output.formats import FORMATS
    from voiceclone_cli.output.sinks import AudioFileSink

    target, rate = Path(job["target"]), int(job["rate"])
    blocks = _blocks(Path(job["wav"]), 10 ** (job["gain_db"] / 20), job["lead"], job["tail"], still_wanted)
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
    answers = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the answer channel
    try:
        for line in sys.stdin:
            if _stopping:
                return 1
            try:
                encode_piece(json.loads(line), still_wanted=lambda: not _stopping and os.getppid() == parent)
                answer = {"ok": True}
            except VoicecloneError as exc:
                answer = {"error": str(exc), "hint": getattr(exc, "hint", None)}
            if _stopping:
                return 1
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    except (Stopped, BrokenPipeError, KeyboardInterrupt):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
