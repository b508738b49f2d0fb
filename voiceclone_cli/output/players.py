"""Playing audio as it is made, with no system library required.

The first choice is miniaudio (its C library is inside the wheel). If it cannot open a
device, a command-line player found on PATH is used (``paplay``, ``aplay`` and ``ffplay``
stream from stdin; macOS's ``afplay`` needs a file, so it plays once everything is made).
``VOICECLONE_PLAYER`` forces one: any command that plays WAV from its stdin or from a file
(``mpv -``, ``ffplay -nodisp -autoexit -``, ``afplay {}``), or a known player with extra
arguments (``aplay -D hw:1``); ``player_from_command`` has the rule. Every backend is checked
before any synthesis (the known ones by playing 10 ms of silence), so a machine without sound
fails fast.
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
from voiceclone_cli.audio.wav import to_pcm16, wav_header

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


class _StderrTail:
    """Reads a player's stderr to the end on a thread, keeping only its last bytes.

    A pipe that nobody reads fills up (64 KB on Linux) and then blocks the player in its next
    write to stderr: a player printing a level meter (``aplay -vv``) would stop reading the
    audio and hang the run. The tail is kept for the message when the player fails.
    """

    _KEEP = 4096

    def __init__(self, stream) -> None:
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        with stream:
            while chunk := stream.read1(65536):
                self._tail = (self._tail + chunk)[-self._KEEP:]

    def last_line(self) -> str:
        # bounded: a child of the player may hold the pipe open after the player has exited
        self._thread.join(timeout=5)
        lines = [line.strip() for line in self._tail.decode("utf-8", "replace").splitlines()]
        lines = [line for line in lines if line]
        return lines[-1][:200] if lines else ""


def _spawn(argv: list[str], name: str, stdin) -> tuple[subprocess.Popen, _StderrTail]:
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        raise PlaybackError(f"cannot start the player {name}: {exc.strerror or exc}") from None
    return proc, _StderrTail(proc.stderr)


def _failure(name: str, proc: subprocess.Popen, stderr: _StderrTail) -> PlaybackError:
    return PlaybackError(f"the player {name} failed: {stderr.last_line() or f'exit code {proc.returncode}'}")


class _ProcessStream:
    """Feeds a player's stdin as the audio is made (raw PCM, or WAV after ``header``)."""

    def __init__(self, argv: list[str], name: str, header: bytes = b"") -> None:
        self._name = name
        self._proc, self._stderr = _spawn(argv, name, subprocess.PIPE)
        if header:
            self.write(header)

    def write(self, pcm16: bytes) -> None:
        try:
            self._proc.stdin.write(pcm16)
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._reap()
            raise _failure(self._name, self._proc, self._stderr) from None

    def finish(self) -> None:
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            raise _failure(self._name, self._proc, self._stderr)

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()

    def _reap(self) -> None:
        """The player closed its stdin: give it a moment to exit and say why."""
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.abort()


RAW_PCM_ARGS = {
    "paplay": ["--raw", "--format=s16le", "--channels=1", "--rate={rate}"],
    "aplay": ["-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", "{rate}"],
    "ffplay": ["-nodisp", "-autoexit", "-loglevel", "error", "-f", "s16le", "-ar", "{rate}",
               "-ch_layout", "mono", "-i", "-"],
}


class CommandBackend:
    """A known player program fed raw 16-bit mono PCM on stdin, with the arguments it needs."""

    def __init__(self, program: str, extra_args: list[str] | None = None) -> None:
        self.program = program
        self.name = Path(program).name
        self.extra_args = extra_args or []

    def argv(self, rate: int) -> list[str]:
        raw = [a.format(rate=rate) for a in RAW_PCM_ARGS[self.name]]
        return [shutil.which(self.program) or self.program, *self.extra_args, *raw]

    def available(self) -> bool:
        return shutil.which(self.program) is not None

    def probe(self) -> None:
        silence = b"\0" * (_PROBE_RATE // 50)  # 10 ms
        proc = subprocess.run(self.argv(_PROBE_RATE), input=silence, capture_output=True, timeout=10)
        if proc.returncode != 0:
            reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PlaybackError(f"{self.name} cannot play ({reason[-1][:160] if reason else proc.returncode})")

    def start(self, rate: int) -> PlayerStream:
        return _ProcessStream(self.argv(rate), self.name)


class _UserCommand:
    """A player command the user gave (``VOICECLONE_PLAYER``): found on PATH is all that can be
    checked, since nothing tells how to test an arbitrary program without playing something."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.name = Path(words[0]).name

    def available(self) -> bool:
        return shutil.which(self.words[0]) is not None

    def probe(self) -> None:
        """Found on PATH (``available``) is all that can be checked."""

    def argv(self) -> list[str]:
        return [shutil.which(self.words[0]) or self.words[0], *self.words[1:]]


class WavStdinBackend(_UserCommand):
    """Any command that plays a WAV stream from its stdin (``mpv -``, ``play -``, ...): it gets
    the streaming header (sizes unknown) and then the audio as it is made."""

    def start(self, rate: int) -> PlayerStream:
        return _ProcessStream(self.argv(), self.name, header=wav_header(rate))


class _FileThenPlayStream:
    """For players that only take files: collect, then play when complete."""

    def __init__(self, words: list[str], name: str, rate: int) -> None:
        self._words, self._name, self._rate = words, name, rate
        self._file = tempfile.NamedTemporaryFile(prefix="voiceclone-", suffix=".wav", delete=False)
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
            argv = [word.replace("{}", self._file.name) for word in self._words]
            proc, stderr = _spawn(argv, self._name, subprocess.DEVNULL)
            if proc.wait() != 0:
                raise _failure(self._name, proc, stderr)
        finally:
            Path(self._file.name).unlink(missing_ok=True)

    def abort(self) -> None:
        self._file.close()
        Path(self._file.name).unlink(missing_ok=True)


class WavFileBackend(_UserCommand):
    """A command given the path of a complete WAV file in place of ``{}``, once all audio is made.

    macOS's ``afplay`` only plays files (and always has the system output); so does any command
    written as ``player {}``.
    """

    def start(self, rate: int) -> PlayerStream:
        return _FileThenPlayStream(self.argv(), self.name, rate)


def _backends() -> list[PlayerBackend]:
    return [MiniaudioBackend(), CommandBackend("paplay"), CommandBackend("aplay"),
            CommandBackend("ffplay"), WavFileBackend(["afplay", "{}"])]


def player_from_command(command: str) -> PlayerBackend:
    """The backend for a ``VOICECLONE_PLAYER`` command line.

    ``miniaudio`` names the built-in backend. Otherwise: a command with ``{}`` in an argument
    gets the path of a complete WAV file there once all audio is made; a command with a lone
    ``-`` argument gets a WAV stream on its stdin; a known player (paplay, aplay, ffplay) with
    neither gets raw PCM and the arguments that describe it, after the user's own; ``afplay``
    gets the file as its last argument; any other command gets the WAV stream on its stdin.
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise PlaybackError(f"cannot read {PLAYER_ENV} ({exc})", hint=f'fix its quoting, e.g. {PLAYER_ENV}="mpv -"') from None
    if not words:
        raise PlaybackError(f"{PLAYER_ENV} holds no command", hint=f'unset it, or set it to a player, e.g. {PLAYER_ENV}="mpv -"')
    program, args = words[0], words[1:]
    if words == ["miniaudio"]:
        return MiniaudioBackend()
    if shutil.which(program) is None:
        raise PlaybackError(
            f"player {program!r} from {PLAYER_ENV} is not installed or not on PATH",
            hint=f"install it, give its full path, or unset {PLAYER_ENV} to use the default player",
        )
    name = Path(program).name
    if any("{}" in arg for arg in args):
        return WavFileBackend(words)
    if "-" in args:
        return WavStdinBackend(words)
    if name in RAW_PCM_ARGS:
        return CommandBackend(program, args)
    if name == "afplay":
        return WavFileBackend([*words, "{}"])
    return WavStdinBackend(words)


def find_player(env: Mapping[str, str] | None = None, backends: list[PlayerBackend] | None = None) -> PlayerBackend:
    """The first backend that can really play here; raises PlaybackError naming what was tried."""
    env = os.environ if env is None else env
    candidates = [player_from_command(env[PLAYER_ENV])] if env.get(PLAYER_ENV) else (backends or _backends())
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
