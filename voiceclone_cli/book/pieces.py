"""Book audio encoded chapter by chapter while the later chapters are still being spoken.

Encoding is the slow end of a book: AAC runs at about 250x real time here, 20 s for a 90-minute
book, which used to come after the last request. Instead each chapter is encoded as soon as it
is made, in a child process (``book.encoder``), at the gain the chapters made so far call for;
the last chapter even while it is made (``PieceStream``). The book's gain is one number in
0.1 dB steps, so that guess is usually already the final gain; a piece encoded at another gain
is encoded again.

A piece's file name carries a hash of everything it depends on (the chapter's key, the gain,
the silence around it, the format), so a file that exists is right: a resumed run keeps the
pieces it can use, and two versions of one chapter never overwrite each other.

- m4b: a piece runs from the middle of the gap before its chapter to the middle of the gap
  after it, cut at a whole number of AAC frames. ``output.chapters.M4bJoin`` joins them, each
  as soon as it is encoded (``BookPieces.join_ready``), so the end of a run only joins the last.
- ``-d DIR``: a piece is the chapter's finished file, moved into DIR at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from voiceclone_cli.errors import OutputError

log = logging.getLogger("voiceclone.book")

PIECE_VERSION = 1  # bump when how a piece is encoded changes
M4B = "m4b"


@dataclass(frozen=True)
class PieceSpec:
    wav: str  # the chapter's audio in the work folder
    key: str  # the chapter's key: what the audio says and how
    gain_db: float
    lead: int  # frames of silence before the chapter (m4b)
    tail: int  # ... and after it
    format: str

    @property
    def digest(self) -> str:
        fields = {**asdict(self), "v": PIECE_VERSION}
        del fields["wav"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def m4b_layout(frames: list[int], chapters: int, gap: int, frame_size: int) -> list[tuple[int, int]]:
    """(lead, tail) for the first chapters, ``frames`` long, of a book of ``chapters``
    chapters ``gap`` apart.

    Each cut is the multiple of ``frame_size`` nearest below the middle of its gap, so every
    piece but the last is a whole number of AAC frames and starts and ends in at least a
    quarter-gap of silence. A chapter's lead and tail depend only on the chapters up to it.
    """
    layout, position, cut = [], 0, 0
    for number, length in enumerate(frames):
        start, end = position, position + length
        next_cut = (end + gap // 2) // frame_size * frame_size if number + 1 < chapters else end
        layout.append((start - cut, next_cut - end))
        cut, position = next_cut, end + gap
    return layout


def piece_extension(format_name: str) -> str:
    return "m4a" if format_name == M4B else format_name


class PieceMaker:
    """Encodes pieces in child processes (at most ``workers``); ``wait`` for them, ``close``
    to stop."""

    def __init__(self, work: Path, format_name: str, rate: int, workers: int) -> None:
        self.work = work
        self.format_name = format_name
        self.rate = rate
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="voiceclone-encode")
        self._idle: queue.SimpleQueue[EncoderProcess] = queue.SimpleQueue()
        self._processes: list[EncoderProcess] = []
        self._lock = threading.Lock()
        self._jobs: dict[int, tuple[PieceSpec, Future]] = {}
        self._stopping = False

    def path(self, number: int, spec: PieceSpec) -> Path:
        return self.work / f"{number:04d}-{spec.digest}.{piece_extension(spec.format)}"

    def stream_path(self, number: int) -> Path:
        """Where a streamed piece is written before it is known to be wanted (``PieceStream``)."""
        return self.work / f"{number:04d}-stream.{piece_extension(self.format_name)}"

    def ensure(self, number: int, spec: PieceSpec) -> None:
        """Have piece ``number`` encoded as ``spec`` says, unless it already is or will be."""
        self._raise_failures()
        queued = self._jobs.get(number)
        if queued is not None:
            if queued[0] == spec:
                return
            queued[1].cancel()  # an older guess at the gain, not started yet: not needed
        if self.path(number, spec).exists():
            self._jobs.pop(number, None)
            return
        log.debug("encoding piece %d at %+.1f dB", number, spec.gain_db)
        self._jobs[number] = (spec, self._pool.submit(self._encode, number, spec))

    def adopt(self, number: int, spec: PieceSpec, future: Future) -> None:
        """A piece that ``future`` writes (a streamed one): waited for like the others."""
        queued = self._jobs.get(number)
        if queued is not None:
            queued[1].cancel()
        self._jobs[number] = (spec, future)

    def finished(self, number: int, spec: PieceSpec) -> bool:
        """Whether piece ``number`` is on disk as ``spec`` says (a failure is raised by ``wait``)."""
        job = self._jobs.get(number)
        if job is not None and job[0] == spec:
            future = job[1]
            return future.done() and not future.cancelled() and future.exception() is None
        return self.path(number, spec).exists()

    def wait(self) -> None:
        for _spec, future in list(self._jobs.values()):
            if not future.cancelled():
                future.result()

    def close(self, also: list[EncoderProcess] = ()) -> None:
        """Stop: queued pieces are dropped, the children (and ``also``) give up the ones they
        are on."""
        with self._lock:
            self._stopping = True
            processes = list(self._processes)
        for job in self._jobs.values():
            job[1].cancel()
        stop_all([*processes, *also])
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _raise_failures(self) -> None:
        for _spec, future in self._jobs.values():
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()

    def _encode(self, number: int, spec: PieceSpec) -> None:
        try:
            process = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                if self._stopping:
                    raise OutputError("the book run is stopping") from None
                process = EncoderProcess()
                self._processes.append(process)
        job = {"target": str(self.path(number, spec)), "wav": spec.wav, "gain_db": spec.gain_db,
               "lead": spec.lead, "tail": spec.tail, "format": spec.format, "rate": self.rate}
        process.run(job)
        self._idle.put(process)


class EncoderProcess:
    """One ``python -m voiceclone_cli.book.encoder`` child, started on first use."""

    def __init__(self) -> None:
        import os
        import subprocess
        import sys

        import voiceclone_cli

        # The child imports this very copy of voiceclone, however this process found it.
        root = str(Path(voiceclone_cli.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "voiceclone_cli.book.encoder"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, encoding="utf-8", start_new_session=True,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:
            raise OutputError(f"cannot start the audio encoder ({sys.executable}): {exc.strerror or exc}",
                              hint="check that this Python can still run; the chapters made are kept") from None

    def run(self, job: dict) -> None:
        self.send(job)
        self.answer(job["target"])

    def send(self, message: dict) -> bool:
        """Write one line to the child; False if it is gone (``answer`` then says so)."""
        try:
            self._child.stdin.write(json.dumps(message) + "\n")
            self._child.stdin.flush()
            return True
        except (OSError, ValueError):  # the pipe is closed: the child is gone
            return False

    def answer(self, target: str) -> dict:
        """The child's answer to the job writing ``target``; its error raised."""
        try:
            line = self._child.stdout.readline()
        except (OSError, ValueError):
            line = ""
        if not line:
            code = self._child.wait()
            raise OutputError(f"the audio encoder stopped unexpectedly (exit {code}) writing {target}",
                              hint="run the same command again; the chapters already made are kept")
        answer = json.loads(line)
        if "error" in answer:
            raise OutputError(answer["error"], hint=answer.get("hint"))
        return answer

    def stop(self) -> None:
        """Ask the child to give up its piece and end; it deletes its temp file itself."""
        stop_all([self])

    def _ask_to_stop(self) -> None:
        if self._child.poll() is None:
            self._child.terminate()

    def _wait_stopped(self) -> None:
        import subprocess

        if self._child.poll() is None:
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()
        for stream in (self._child.stdin, self._child.stdout):
            try:
                stream.close()
            except OSError:
                pass


def stop_all(processes: list[EncoderProcess]) -> None:
    """Stop children together: each is asked first, then each is waited for, so the run's end
    waits for the slowest child rather than for each in turn (~0.1 s apiece)."""
    for process in processes:
        process._ask_to_stop()
    for process in processes:
        process._wait_stopped()


class PieceStream:
    """A piece encoded while its chapter is being made: a child of its own follows the
    chapter's WAV as it is written, so a chapter's piece is ready soon after its last chunk
    (the last chapter's above all, which nothing else would overlap)."""

    def __init__(self, process: EncoderProcess, answers: ThreadPoolExecutor, target: Path,
                 gain_db: float, lead: int, format_name: str, rate: int) -> None:
        self.process, self._answers, self.target = process, answers, target
        self.gain_db, self.lead = gain_db, lead
        self._job = {"stream": True, "target": str(target), "gain_db": gain_db, "lead": lead,
                     "format": format_name, "rate": rate}  # the tail comes with the end
        self._open = False

    def start(self, wav: Path, final_wav: Path) -> None:
        """The chapter's WAV exists (its header written) at ``wav``, to be renamed ``final_wav``
        when whole: the child starts following it."""
        self._open = self.process.send({**self._job, "wav": str(wav), "final_wav": str(final_wav)})

    def grown(self, frames: int) -> None:
        if self._open:
            self._open = self.process.send({"frames": frames})

    def finish(self, frames: int, tail: int, final: Path) -> Future:
        """End the piece with ``tail`` frames of silence; the future renames it to ``final``."""
        import os

        self.process.send({"end": True, "frames": frames, "tail": tail})

        def done() -> None:
            self.process.answer(str(self.target))
            os.replace(self.target, final)

        return self._answers.submit(done)

    def abort(self) -> None:
        """Give the piece up (the gain moved, or the chapter failed); the child drops it."""
        if self._open:
            self._open = False
            self.process.send({"abort": True})

            def drop() -> None:
                try:
                    self.process.answer(str(self.target))
                except OutputError:
                    pass

            self._answers.submit(drop)
