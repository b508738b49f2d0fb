"""Where finished audio goes: a file (atomically) or a byte stream such as stdout.

A sink is opened with the output rate once the first chunk is known, receives mono float
blocks in order, and is either closed (the output is complete) or aborted (nothing partial
is left behind: a file target keeps its previous content).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from voiceclone_cli.output import atomic, formats
from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.formats import FORMATS, OutputFormat
from voiceclone_cli.audio.wav import to_pcm16, wav_header


class Sink(Protocol):
    def rate_for(self, rate: int) -> int: ...  # the rate this sink will take, given the engine's
    def open(self, rate: int) -> None: ...
    def write(self, samples: np.ndarray) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    reason = text[0][:160] if text else type(exc).__name__
    if "System error" in reason:  # libsndfile hides the errno of a failed write
        return "the disk is full or the file grew too large (libsndfile: System error)"
    return reason


class AudioFileSink:
    """Writes progressively into a hidden temp file next to the target; renamed on close.

    ``path`` is where the finished file lands (for a symbolic link, its destination, so the
    link is kept); ``shown`` is the name the user gave, used in messages. ``reserved`` means
    ``path`` is an empty placeholder this run created to claim a generated name: it is
    removed again if the run fails. ``expected_seconds`` is an upper estimate of the length:
    WAV output that could outgrow the 32-bit RIFF sizes is written as RF64 from the start.
    ``defer_commit``: ``close`` finishes the temp file and ``commit`` renames it, so a caller
    can put the file in place and record it in one step.
    """

    def __init__(self, path: Path, fmt: OutputFormat = FORMATS["wav"], *, shown: Path | None = None,
                 reserved: bool = False, expected_seconds: float | None = None,
                 defer_commit: bool = False) -> None:
        self.path = Path(path)
        self.defer_commit = defer_commit
        self.shown = Path(shown) if shown is not None else self.path
        self.format = fmt
        self.reserved = reserved
        self.expected_seconds = expected_seconds
        self._tmp: Path | None = None
        self._file = None
        self._limit_bytes: int | None = None
        self.frames = 0

    def rate_for(self, rate: int) -> int:
        return self.format.rate_for(rate)

    @property
    def temp_path(self) -> Path | None:
        """The file being written until ``close`` renames it to ``path``."""
        return self._tmp

    def open(self, rate: int) -> None:
        import soundfile as sf

        if not self.format.accepts(rate):  # callers ask rate_for() first; this is the guard
            raise OutputError(f"{self.format.name} cannot hold {rate} Hz audio",
                              hint=f"add --sample-rate {self.format.rate_for(rate)}")
        fmt = self.format
        if fmt.container == "WAV":
            expected = (self.expected_seconds or 0.0) * rate * 2 + 44
            if expected > formats.WAV_MAX_BYTES:
                fmt = formats.RF64
            else:
                self._limit_bytes = formats.WAV_MAX_BYTES
        try:
            fd, self._tmp = atomic.create_temp(self.path)
            os.close(fd)
            self._file = sf.SoundFile(
                self._tmp, "w", samplerate=rate, channels=1, subtype=fmt.subtype, format=fmt.container,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            self._discard()
            raise OutputError(f"cannot write {self.shown}: {_reason(exc)}") from None

    def write(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        if self._limit_bytes is not None and 44 + (self.frames + len(samples)) * 2 > self._limit_bytes:
            raise OutputError(
                f"{self.shown} would pass the {self._limit_bytes / 2**30:.0f} GiB size limit of a WAV file",
                hint="write .flac, .mp3 or .ogg instead; run the same command again "
                     "(the chunks already made are cached)",
            )
        if self.format.subtype == "PCM_16":
            # Quantise exactly as the stdout stream does, so both give identical samples.
            samples = np.frombuffer(to_pcm16(samples), "<i2")
        try:
            self._file.write(samples)
        except (OSError, RuntimeError) as exc:
            raise OutputError(f"cannot write {self.shown}: {_reason(exc)}") from None
        self.frames += len(samples)

    def close(self) -> None:
        try:
            self._file.close()
            with open(self._tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise OutputError(f"cannot write {self.shown}: {_reason(exc)}") from None
        if not self.defer_commit:
            self.commit()

    def commit(self) -> None:
        """Put the closed file in place (done by ``close`` unless ``defer_commit``)."""
        try:
            atomic.commit_temp(self._tmp, self.path)
            self._tmp = None
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.shown}: {_reason(exc)}") from None

    def abort(self) -> None:
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except (OSError, RuntimeError):
                pass
        self._discard()
        if self.reserved:
            release_reservation(self.path)

    def _discard(self) -> None:
        if self._tmp is not None:
            atomic.discard_temp(self._tmp)
            self._tmp = None


def release_reservation(path: Path) -> None:
    """Remove a name placeholder this run created, unless something has been written there."""
    try:
        if os.stat(path).st_size == 0:
            os.unlink(path)
    except OSError:
        pass


class WavStreamSink:
    """A WAV stream for pipes: the header gives "unknown length", so it never needs rewriting."""

    def __init__(self, stream: BinaryIO, name: str = "stdout", *, owns_stream: bool = False) -> None:
        self.stream = stream
        self.name = name
        self.owns_stream = owns_stream
        self.frames = 0

    def rate_for(self, rate: int) -> int:
        return rate

    def open(self, rate: int) -> None:
        self._put(wav_header(rate))

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._put(to_pcm16(samples))
            self.frames += len(samples)

    def close(self) -> None:
        self._put(b"")
        self._release()

    def abort(self) -> None:
        """Whatever was streamed is out; stopping is all that can be done."""
        self._release()

    def _release(self) -> None:
        if self.owns_stream:
            try:
                self.stream.close()
            except OSError:
                pass

    def _put(self, data: bytes) -> None:
        try:
            if data:
                self.stream.write(data)
            self.stream.flush()
        except BrokenPipeError:
            raise OutputError(f"the program reading {self.name} closed the pipe", hint="") from None
        except OSError as exc:
            raise OutputError(f"cannot write to {self.name}: {_reason(exc)}") from None


class RawStreamSink(WavStreamSink):
    """Headerless little-endian 16-bit mono PCM, for players and tools that take raw input."""

    def __init__(self, stream: BinaryIO, on_open=None, name: str = "stdout") -> None:
        super().__init__(stream, name)
        self._on_open = on_open

    def open(self, rate: int) -> None:
        if self._on_open is not None:
            self._on_open(rate)


class TeeSink:
    """Several sinks fed the same audio (e.g. play and save)."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def rate_for(self, rate: int) -> int:
        for sink in self.sinks:  # a rate-limited encoder decides; players and streams take any
            if sink.rate_for(rate) != rate:
                return sink.rate_for(rate)
        return rate

    def open(self, rate: int) -> None:
        for sink in self.sinks:
            sink.open(rate)

    def write(self, samples: np.ndarray) -> None:
        for sink in self.sinks:
            sink.write(samples)

    def close(self) -> None:
        """Close every sink even if one fails (a failed player must not lose the saved file)."""
        failures = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    def abort(self) -> None:
        for sink in self.sinks:
            sink.abort()
