"""Playing audio as it is made, with no system library required.

The first choice is miniaudio (its C library is inside the wheel). If it cannot open a
device, a command-line player found on PATH is used (``paplay``, ``aplay`` and ``ffplay``
stream from stdin; macOS's ``afplay`` needs a file, so it plays once everything is made).
``VOICECLONE_PLAYER`` forces one, with optional arguments (e.g. ``aplay -D hw:1``).
Every backend is probed before any synthesis, so a machine without sound fails fast.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from voiceclone_cli.errors import PlaybackError
from voiceclone_cli.wav import to_pcm16, wav_header

PLAYER_ENV = "VOICECLONE_PLAYER"
_PROBE_RATE = 22050


class PlayerStream(Protocol):
    def write(self, pcm16: bytes) -> None: ...
    def finish(self) -> None: ...  # returns when everything written has been heard
    def abort(self) -> None: ...


class PlayerBackend(Protocol):
    name: str

    def available(self) -> bool: ...
    def probe(self) -> None: ...  # raises PlaybackError if nothing can be played
    def start(self, rate: int) -> PlayerStream: ...


@contextmanager
def _quiet_stderr():
    """Silence C libraries (ALSA prints pages of errors to fd 2 when it finds no card)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _MiniaudioStream:
    """Feeds a miniaudio device from a byte queue; silence fills any gap between chunks."""

    def __init__(self, rate: int) -> None:
        import miniaudio

        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._closing = False
        self._drained = threading.Event()
        self._latency = 0.2
        with _quiet_stderr():
            self._device = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=rate,
                buffersize_msec=int(self._latency * 1000),
            )
        feeder = self._feed()
        next(feeder)
        self._device.start(feeder)

    def _feed(self):
        frames = yield b""
        while True:
            wanted = frames * 2
            with self._lock:
                data = bytes(self._buffer[:wanted])
                del self._buffer[:wanted]
                if not data and self._closing:
                    self._drained.set()
            frames = yield data + b"\0" * (wanted - len(data))

    def write(self, pcm16: bytes) -> None:
        with self._lock:
            self._buffer.extend(pcm16)

    def finish(self) -> None:
        with self._lock:
            self._closing = True
        self._drained.wait()
        time.sleep(self._latency)  # the device's own buffer still has to play out
        self._device.close()

    def abort(self) -> None:
        self._device.close()


class MiniaudioBackend:
    name = "miniaudio"

    def available(self) -> bool:
        import importlib.util

        return importlib.util.find_spec("miniaudio") is not None

    def probe(self) -> None:
        import miniaudio

        try:
            with _quiet_stderr():
                device = miniaudio.PlaybackDevice(
                    output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=_PROBE_RATE
                )
                device.close()
        except miniaudio.MiniaudioError as exc:
            raise PlaybackError(f"miniaudio found no usable output device ({exc.args[0]})") from None

    def start(self, rate: int) -> PlayerStream:
        return _MiniaudioStream(rate)


class _ProcessStream:
    def __init__(self, argv: list[str]) -> None:
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)

    def write(self, pcm16: bytes) -> None:
        try:
            self._proc.stdin.write(pcm16)
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise PlaybackError(f"the player stopped: {self._error()}") from None

    def finish(self) -> None:
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            raise PlaybackError(f"the player failed: {self._error()}")

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()

    def _error(self) -> str:
        text = (self._proc.stderr.read() or b"").decode("utf-8", "replace").strip()
        return text.splitlines()[-1][:200] if text else f"exit code {self._proc.poll()}"


class CommandBackend:
    """A player program that reads raw 16-bit mono PCM from stdin."""

    _RAW_ARGS = {
        "paplay": ["--raw", "--format=s16le", "--channels=1", "--rate={rate}"],
        "aplay": ["-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", "{rate}"],
        "ffplay": ["-nodisp", "-autoexit", "-loglevel", "error", "-f", "s16le", "-ar", "{rate}",
                   "-ch_layout", "mono", "-i", "-"],
    }

    def __init__(self, program: str, extra_args: list[str] | None = None) -> None:
        self.name = program
        self.extra_args = extra_args or []

    def argv(self, rate: int) -> list[str]:
        raw = [a.format(rate=rate) for a in self._RAW_ARGS[self.name]]
        return [shutil.which(self.name) or self.name, *self.extra_args, *raw]

    def available(self) -> bool:
        return shutil.which(self.name) is not None

    def probe(self) -> None:
        silence = b"\0" * (_PROBE_RATE // 50)  # 10 ms
        proc = subprocess.run(self.argv(_PROBE_RATE), input=silence, capture_output=True, timeout=10)
        if proc.returncode != 0:
            reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PlaybackError(f"{self.name} cannot play ({reason[-1][:160] if reason else proc.returncode})")

    def start(self, rate: int) -> PlayerStream:
        return _ProcessStream(self.argv(rate))


class _FileThenPlayStream:
    """For players that only take files: collect, then play when complete."""

    def __init__(self, program: str, rate: int) -> None:
        self._program, self._rate = program, rate
        self._file = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
        self._file.write(wav_header(rate, frames=0))
        self._frames = 0

    def write(self, pcm16: bytes) -> None:
        self._file.write(pcm16)
        self._frames += len(pcm16) // 2

    def finish(self) -> None:
        self._file.seek(0)
        self._file.write(wav_header(self._rate, frames=self._frames))
        self._file.close()
        try:
            if subprocess.run([self._program, self._file.name]).returncode != 0:
                raise PlaybackError(f"{self._program} failed to play")
        finally:
            Path(self._file.name).unlink(missing_ok=True)

    def abort(self) -> None:
        self._file.close()
        Path(self._file.name).unlink(missing_ok=True)


class AfplayBackend:
    name = "afplay"

    def available(self) -> bool:
        return shutil.which("afplay") is not None

    def probe(self) -> None:
        """afplay ships with macOS and always has the system output."""

    def start(self, rate: int) -> PlayerStream:
        return _FileThenPlayStream(shutil.which("afplay") or "afplay", rate)


def _backends() -> list[PlayerBackend]:
    return [MiniaudioBackend(), CommandBackend("paplay"), CommandBackend("aplay"),
            CommandBackend("ffplay"), AfplayBackend()]


def _forced(spec: str) -> PlayerBackend:
    words = shlex.split(spec)
    name, extra = (words[0], words[1:]) if words else ("", [])
    if name == "miniaudio":
        return MiniaudioBackend()
    if name == "afplay":
        return AfplayBackend()
    if name in CommandBackend._RAW_ARGS:
        return CommandBackend(name, extra)
    raise PlaybackError(
        f"unknown player {name!r} in {PLAYER_ENV}",
        hint="use miniaudio, paplay, aplay, ffplay or afplay (with optional arguments)",
    )


def find_player(env: Mapping[str, str] | None = None, backends: list[PlayerBackend] | None = None) -> PlayerBackend:
    """The first backend that can really play here; raises PlaybackError naming what was tried."""
    env = os.environ if env is None else env
    candidates = [_forced(env[PLAYER_ENV])] if env.get(PLAYER_ENV) else (backends or _backends())
    tried: list[str] = []
    for backend in candidates:
        if not backend.available():
            continue
        try:
            backend.probe()
            return backend
        except PlaybackError as exc:
            tried.append(exc.message)
    detail = "; ".join(tried) if tried else "no player available"
    raise PlaybackError(f"cannot play audio: no output device ({detail})")


class PlayerSink:
    """A sink that plays; ``close`` returns once the last sample has been heard."""

    def __init__(self, backend: PlayerBackend) -> None:
        self.backend = backend
        self._stream: PlayerStream | None = None

    def rate_for(self, rate: int) -> int:
        return rate

    def open(self, rate: int) -> None:
        self._stream = self.backend.start(rate)

    def write(self, samples: np.ndarray) -> None:
        if len(samples):
            self._stream.write(to_pcm16(samples))

    def close(self) -> None:
        self._stream.finish()

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.abort()
