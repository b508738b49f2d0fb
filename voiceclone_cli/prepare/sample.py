"""Voice sample preparation: everything the service would refuse is caught here, locally.

The format is read from the bytes (a renamed file is still recognised), the audio is decoded to
measure it, and a sample that is too long or too large is fitted (cut at a pause, re-encoded)
unless the user asked for ``strict`` handling. Decoding needs only pip wheels: soundfile's
bundled libsndfile for WAV, PyAV's bundled FFmpeg for MP3 and M4A.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from voiceclone_cli import limits
from voiceclone_cli.limits import SAMPLE_WINDOW
from voiceclone_cli.errors import SampleError, open_error

if TYPE_CHECKING:
    import numpy as np

    from voiceclone_cli.audio.wav import Audio

MIN_SECONDS = limits.SAMPLE_MIN_SECONDS
MAX_SECONDS = limits.SAMPLE_MAX_SECONDS
MAX_BYTES = limits.SAMPLE_MAX_BYTES
SUPPORTED = limits.SAMPLE_FORMATS
MIN_RATE = 8000  # telephone speech; anything lower is a damaged header, not a recording
MAX_RATE = 384_000

# A fitted sample stays clear of the edges of the service's window, so decoder differences
# (MP3 priming, rounding) can never push it outside.
FIT_MAX_SECONDS = 29.5
_READ_LIMIT_BYTES = 512 * 1024 * 1024
_DECODE_LIMIT_SECONDS = 120.0
_SILENCE_DBFS = -50.0
_MIME = {"WAV": "audio/wav", "MP3": "audio/mpeg", "M4A": "audio/mp4"}
_FIT_RATES = (48000, 44100, 32000, 24000, 22050, 16000)
_ERRNO_PREFIX = re.compile(r"^\[Errno -?\d+\] ")
#: soundfile's "Error opening <_io.BytesIO object at 0x...>: " and PyAV's ": '<none>'" name our
#: in-memory buffer, not the file.
_OPENING_PREFIX = re.compile(r"^Error opening (?:<[^>]*>|'[^']*'|\"[^\"]*\"): ")
_NO_NAME_SUFFIX = re.compile(r":\s*'<none>'$")


@dataclass
class PreparedSample:
    """What is uploaded (``data``) plus the decoded audio for local analysis."""

    data: bytes
    filename: str
    mime_type: str
    format: str
    seconds: float
    samples: np.ndarray  # mono float32, the audio actually uploaded
    rate: int
    source: Path
    notes: list[str] = field(default_factory=list)
    # The saved voice (``voices.StoredVoice``) this sample is, when it came by name: engines
    # may keep their voice state with it (``voices.states``).
    saved: Any = field(default=None, repr=False, compare=False)

    @functools.cached_property  # hashed once per voice, not once per chunk's cache lookup
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff_format(head: bytes) -> str | None:
    """Name the container from its first bytes, or ``None`` if it is none we support."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "M4A"
    if head[:3] == b"ID3":
        return "MP3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        layer = (head[1] >> 1) & 0x3
        return "MP3" if layer != 0 else None  # layer 0 is AAC in ADTS, not MP3
    return None


def _describe_unsupported(head: bytes) -> str:
    known = {b"OggS": "Ogg", b"fLaC": "FLAC", b"\x1aE\xdf\xa3": "WebM/Matroska", b"FORM": "AIFF"}
    for magic, name in known.items():
        if head.startswith(magic):
            return f"{name} audio"
    if head[:1] in (b"{", b"<") or all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "a text file"
    return "not a recognised audio file"


def _decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(io.BytesIO(data)) as f:
        rate = f.samplerate
        frames = min(f.frames, int(_DECODE_LIMIT_SECONDS * rate) + 1)
        block = f.read(frames, dtype="float32", always_2d=True)
    with np.errstate(invalid="ignore", over="ignore"):  # damaged float data: refused after
        mono = block.mean(axis=1)
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def _decode_compressed(data: bytes) -> tuple[np.ndarray, int]:
    import av
    import numpy as np

    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        parts: list[np.ndarray] = []
        total = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                block = out.to_ndarray().reshape(-1)
                parts.append(block)
                total += len(block)
            if total > _DECODE_LIMIT_SECONDS * rate:
                break
        else:
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
    if not parts:
        raise ValueError("no audio frames")
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32), rate


def decode_sample(data: bytes, fmt: str) -> Audio:
    """The sample's audio, mono (at most ~2 minutes are decoded: enough to fit 30 s)."""
    from voiceclone_cli.audio.wav import Audio

    return Audio(*(_decode_wav(data) if fmt == "WAV" else _decode_compressed(data)))


_LEVEL_FRAME_SECONDS = 0.02


def _levels_db(samples: np.ndarray, rate: int) -> np.ndarray:
    from voiceclone_cli.audio.assembly import frame_levels_db

    return frame_levels_db(samples, rate, _LEVEL_FRAME_SECONDS)


def cut_at_pause(samples: np.ndarray, rate: int, limit_seconds: float) -> np.ndarray:
    """Cut to at most ``limit_seconds``, at the quietest moment of the last third before it."""
    import numpy as np

    limit = int(limit_seconds * rate)
    if len(samples) <= limit:
        return samples
    db = _levels_db(samples[:limit], rate)
    # 200 ms of context: a pause, not a stop consonant.
    smooth = np.convolve(db, np.ones(10) / 10, mode="same")
    lo = int(len(smooth) * 2 / 3)
    window = smooth[lo:]
    # Among frames within 3 dB of the quietest, take the latest: keeps the most speech.
    candidates = (window <= window.min() + 3.0).nonzero()[0]
    cut = (lo + int(candidates[-1]) + 1) * int(rate * 0.02)
    out = samples[:cut].copy()
    fade = min(len(out), int(rate * 0.01))
    out[len(out) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def _encode_fitted(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int, bytes]:
    """Encode as 16-bit mono WAV at the highest standard rate that fits the size limit.

    A sample below the standard rates (8 or 11.025 kHz) keeps its own rate: 29.5 s of it fits.
    """
    from voiceclone_cli.audio.resample import resample
    from voiceclone_cli.audio.wav import Audio, encode_wav

    targets = sorted({min(rate, _FIT_RATES[0]), *(r for r in _FIT_RATES if r <= rate)}, reverse=True)
    for target in targets:
        audio = resample(Audio(samples, rate), target)
        data = encode_wav(audio)
        if len(data) <= MAX_BYTES:
            return audio.samples, target, data
    raise SampleError("sample cannot be fitted under the upload limit")  # pragma: no cover


def prepare_sample(path: Path | str, *, strict: bool = False) -> PreparedSample:
    """Validate a sample and return exactly what may be uploaded, or raise ``SampleError``."""
    path = Path(path)
    data = _read_sample_bytes(path)
    fmt = sniff_format(data[:64])
    supported = ", ".join(SUPPORTED)
    if fmt is None:
        raise SampleError(
            f"{path.name} is {_describe_unsupported(data[:64])}; supported formats: {supported}",
            hint="convert the sample to WAV, MP3 or M4A",
        )
    try:
        samples, rate = (decoded := decode_sample(data, fmt)).samples, decoded.rate
    except Exception as exc:  # decoders raise many types for corrupt input
        raise SampleError(
            f"cannot decode {path.name} as {fmt}: {_short(exc)}",
            hint="re-export the sample as a 16-bit WAV",
        ) from exc
    if len(samples) == 0 or rate <= 0:
        raise SampleError(f"{path.name} holds no audio", hint=f"record {SAMPLE_WINDOW} of speech")
    _check_decoded(path, samples, rate)
    seconds = len(samples) / rate
    if seconds < MIN_SECONDS:
        raise SampleError(
            f"sample is {seconds:.1f} s long; at least {MIN_SECONDS:.0f} s of speech is needed",
            hint=f"record {SAMPLE_WINDOW} of clear speech",
        )
    if _levels_db(samples, rate).max() < _SILENCE_DBFS:
        raise SampleError(
            f"{path.name} is silent (quieter than {_SILENCE_DBFS:.0f} dBFS)",
            hint="check the recording level or pick another sample",
        )

    notes: list[str] = []
    fits = seconds <= MAX_SECONDS and len(data) <= MAX_BYTES
    if fits:
        return PreparedSample(
            data, _upload_name(path, fmt), _MIME[fmt], fmt, seconds, samples, rate, path, notes
        )
    if strict:
        problem = (
            f"sample is {seconds:.1f} s long (limit {MAX_SECONDS:.0f} s)"
            if seconds > MAX_SECONDS
            else f"sample is {len(data) / 1e6:.1f} MB (limit {MAX_BYTES / 1e6:.1f} MB)"
        )
        raise SampleError(problem, hint="drop --strict-sample to let voiceclone fit it")

    if seconds > MAX_SECONDS:
        from voiceclone_cli.audio.assembly import trim_to_pad

        trimmed = trim_to_pad(samples, rate, pad_seconds=0.25, frame_seconds=_LEVEL_FRAME_SECONDS)
        if len(trimmed) / rate > FIT_MAX_SECONDS:
            trimmed = cut_at_pause(trimmed, rate, FIT_MAX_SECONDS)
        longer = "over " if seconds >= _DECODE_LIMIT_SECONDS else ""
        notes.append(f"sample trimmed from {longer}{seconds:.1f} s to {len(trimmed) / rate:.1f} s at a pause")
        samples = trimmed
    fitted, new_rate, wav = _encode_fitted(samples, rate)
    if new_rate != rate or fmt != "WAV" or len(data) > MAX_BYTES:
        notes.append(
            f"sample re-encoded as 16-bit mono WAV at {new_rate / 1000:g} kHz "
            f"({len(wav) / 1e6:.1f} MB) to fit the upload limit"
        )
    return PreparedSample(
        wav, _upload_name(path, "WAV"), _MIME["WAV"], "WAV", len(fitted) / new_rate,
        fitted, new_rate, path, notes,
    )


def _read_sample_bytes(path: Path) -> bytes:
    return b"".join(read_sample_blocks(path))


def read_sample_blocks(path: Path, block_size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of a sample file, block by block, once ``open_sample`` has accepted it."""
    with open_sample(path) as handle:
        total = 0
        try:
            while block := handle.read(block_size):
                total += len(block)
                if total > _READ_LIMIT_BYTES:  # grown since it was checked
                    raise _too_large(path, total)
                yield block
        except OSError as exc:
            raise SampleError(f"cannot read sample {path}: {exc.strerror}") from None


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_sample(path: Path) -> BinaryIO:
    """Open a sample for reading, or raise ``SampleError`` if it cannot be an audio file.

    Only a regular file (symbolic links followed) with something in it is opened. A FIFO would
    block forever waiting for a writer and a device might never end, so the file is opened
    without blocking and checked on the open descriptor, where nothing can swap it in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        raise open_error(exc, "sample", path, "--sample", SampleError) from None
    except OSError as exc:  # e.g. a socket, which cannot be opened at all: say what it is
        with contextlib.suppress(OSError):
            _check_regular(path, os.stat(path))
        raise SampleError(f"cannot read sample {path}: {exc.strerror}") from None
    try:
        _check_regular(path, os.fstat(fd))
    except SampleError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_regular(path: Path, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise SampleError(f"sample is a directory: {path}", hint="give an audio file as the sample")
    if stat.S_ISCHR(info.st_mode) and info.st_rdev == _devnull_rdev():
        raise SampleError(f"sample {path} is empty", hint=f"record {SAMPLE_WINDOW} of speech")
    for is_kind, kind in _SPECIAL_FILES:
        if is_kind(info.st_mode):
            raise SampleError(
                f"sample {path} is {kind}, not an audio file",
                hint="save the audio to a regular file first and give that file",
            )
    if info.st_size == 0:
        raise SampleError(f"sample {path} is empty", hint=f"record {SAMPLE_WINDOW} of speech")
    if info.st_size > _READ_LIMIT_BYTES:
        raise _too_large(path, info.st_size)


def _too_large(path: Path, size: int) -> SampleError:
    return SampleError(
        f"{path.name} is {size / 1e6:.0f} MB: far too large for a voice sample",
        hint=f"cut a {SAMPLE_WINDOW} clip of clear speech",
    )


def _devnull_rdev() -> int | None:
    try:
        return os.stat(os.devnull).st_rdev
    except OSError:  # pragma: no cover - no /dev/null
        return None


def _check_decoded(path: Path, samples: np.ndarray, rate: int) -> None:
    """Refuse what decoders accept from a damaged header but no recording can be.

    A rate far outside what microphones record, or samples that are not numbers (a float
    WAV's NaN or infinity), would otherwise be uploaded as they are, or break the analysis.
    """
    import numpy as np

    if not MIN_RATE <= rate <= MAX_RATE:
        raise SampleError(
            f"{path.name} declares a sample rate of {rate} Hz; a recording has "
            f"{MIN_RATE // 1000}-{MAX_RATE // 1000} kHz",
            hint="the file is probably damaged: re-export the sample as a 16-bit WAV",
        )
    if not np.isfinite(samples).all():
        raise SampleError(
            f"{path.name} holds samples that are not numbers (NaN or infinite)",
            hint="the file is probably damaged: re-export the sample as a 16-bit WAV",
        )


def _upload_name(path: Path, fmt: str) -> str:
    """The upload's file name carries the real format's extension, whatever the local name."""
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in path.stem)
    return f"{stem or 'sample'}.{fmt.lower()}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # PyAV's "[Errno 1094995529] ..." says nothing
    text = _NO_NAME_SUFFIX.sub("", _OPENING_PREFIX.sub("", _ERRNO_PREFIX.sub("", text)))
    return text[:160]
