"""Where finished audio goes: a file (atomically) or a byte stream such as stdout.

A sink is opened with the output rate once the first chunk is known, receives mono float
blocks in order, and is either closed (the output is complete) or aborted (nothing partial
is left behind: a file target keeps its previous content).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from voiceclone_cli.atomic import temp_path_for
from voiceclone_cli.errors import OutputError
from voiceclone_cli.formats import FORMATS, OutputFormat
from voiceclone_cli.wav import to_pcm16, wav_header


class Sink(Protocol):
    def open(self, rate: int) -> None: ...
    def write(self, samples: np.ndarray) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def check_output_path(path: Path) -> None:
    """Fail before any work if the result could not be saved there."""
    if path.is_dir():
        raise OutputError(f"output {path} is a directory", hint="give a file name, e.g. -o out.wav")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"output directory {parent} does not exist", hint=f"create it: mkdir -p {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {parent} is not writable", hint="choose another -o path")


def default_output_path(directory: Path | None = None, now: datetime | None = None, ext: str = "wav") -> Path:
    """``voiceclone-YYYYMMDD-HHMMSS.wav``, with a counter if that name is taken."""
    directory = directory or Path.cwd()
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = directory / f"voiceclone-{stamp}.{ext}"
    counter = 2
    while candidate.exists():
        candidate = directory / f"voiceclone-{stamp}-{counter}.{ext}"
        counter += 1
    return candidate


class AudioFileSink:
    """Writes progressively into a hidden temp file next to the target; renamed on close."""

    def __init__(self, path: Path, fmt: OutputFormat = FORMATS["wav"]) -> None:
        self.path = Path(path)
        self.format = fmt
        self._tmp: Path | None = None
        self._file = None
        self.frames = 0

    def open(self, rate: int) -> None:
        import soundfile as sf

        if self.format.max_rate and rate > self.format.max_rate:
            raise OutputError(
                f"{self.format.name} cannot hold {rate} Hz audio",
                hint=f"add --sample-rate {self.format.max_rate} or pick another format",
            )
        self._tmp = temp_path_for(self.path)
        try:
            self._file = sf.SoundFile(
                self._tmp, "w", samplerate=rate, channels=1,
                subtype=self.format.subtype, format=self.format.container,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.path}: {exc}") from None

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            if self.format.subtype == "PCM_16":
                # Quantise exactly as the stdout stream does, so both give identical samples.
                samples = np.frombuffer(to_pcm16(samples), "<i2")
            try:
                self._file.write(samples)
            except (OSError, RuntimeError) as exc:
                raise OutputError(f"cannot write {self.path}: {exc}") from None
            self.frames += len(samples)

    def close(self) -> None:
        try:
            self._file.close()
            with open(self._tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self._tmp, self.path)
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {exc}") from None

    def abort(self) -> None:
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except (OSError, RuntimeError):
                pass
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


class WavStreamSink:
    """A WAV stream for pipes: the header gives "unknown length", so it never needs rewriting."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.frames = 0

    def open(self, rate: int) -> None:
        self._put(wav_header(rate))

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._put(to_pcm16(samples))
            self.frames += len(samples)

    def close(self) -> None:
        self._put(b"")

    def abort(self) -> None:
        """Whatever was streamed is out; stopping is all that can be done."""

    def _put(self, data: bytes) -> None:
        try:
            if data:
                self.stream.write(data)
            self.stream.flush()
        except BrokenPipeError:
            raise OutputError("the program reading stdout closed the pipe", hint="") from None


class RawStreamSink(WavStreamSink):
    """Headerless little-endian 16-bit mono PCM, for players and tools that take raw input."""

    def __init__(self, stream: BinaryIO, on_open=None) -> None:
        super().__init__(stream)
        self._on_open = on_open

    def open(self, rate: int) -> None:
        if self._on_open is not None:
            self._on_open(rate)


class TeeSink:
    """Several sinks fed the same audio (e.g. play and save)."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

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
