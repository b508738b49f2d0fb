"""Strict WAV parsing and streaming WAV headers.

A server can answer 200 with a body that is cut short, has a lying header or is not audio at
all. Generic decoders often read such files without complaint, so responses are checked here
chunk by chunk: the data chunk must be present, whole, and hold at least one frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

STREAMING_SIZE = 0xFFFFFFFF  # "unknown length", as streaming TTS tools write it

_FORMAT_PCM = 1
_FORMAT_FLOAT = 3
_FORMAT_EXTENSIBLE = 0xFFFE


class WavFormatError(ValueError):
    """The bytes are not a complete, playable WAV file."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] and their rate: what every engine returns."""

    samples: np.ndarray
    rate: int
    # Where each sentence of the chunk gives way to the next, in seconds into ``samples``
    # (one fewer than the chunk's ``prepare.sentences``), when the engine knows; empty when
    # it does not, and subtitles then share the chunk's time by characters.
    sentence_bounds: tuple[float, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def parse_wav(data: bytes, *, allow_streaming_size: bool = False) -> Audio:
    """Decode a PCM/float WAV file to mono float32, refusing truncated or malformed input."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError("not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body_start = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body_start + size > len(data):
                raise WavFormatError("fmt chunk is truncated")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body_start)
            if tag == _FORMAT_EXTENSIBLE and size >= 40:
                (tag,) = struct.unpack_from("<H", data, body_start + 24)
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError("data chunk before fmt chunk")
            if size == STREAMING_SIZE and allow_streaming_size:
                size = len(data) - body_start
            if body_start + size > len(data):
                raise WavFormatError(
                    f"data chunk is truncated ({len(data) - body_start} of {size} bytes)"
                )
            return _decode_pcm(data[body_start : body_start + size], *fmt)
        pos = body_start + size + (size & 1)
    raise WavFormatError("no data chunk")


def _decode_pcm(raw: bytes, tag: int, channels: int, rate: int, bits: int) -> Audio:
    if channels < 1 or rate < 1000 or rate > 384_000:
        raise WavFormatError(f"implausible format: {channels} channels at {rate} Hz")
    width = bits // 8
    frame = width * channels
    if frame == 0 or len(raw) < frame:
        raise WavFormatError("no audio frames")
    raw = raw[: len(raw) - len(raw) % frame]
    if tag == _FORMAT_PCM and bits == 16:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif tag == _FORMAT_PCM and bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
        samples = ints.astype(np.float32) / 8388608.0
    elif tag == _FORMAT_PCM and bits == 32:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0
    elif tag == _FORMAT_PCM and bits == 8:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == _FORMAT_FLOAT and bits in (32, 64):
        with np.errstate(invalid="ignore", over="ignore"):  # out of float32 range: refused below
            samples = np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise WavFormatError("float samples are not finite")
        samples = np.clip(samples, -1.0, 1.0)
    else:
        raise WavFormatError(f"unsupported WAV encoding (format {tag}, {bits} bits)")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate)


def wav_header(rate: int, *, channels: int = 1, bits: int = 16, frames: int | None = None) -> bytes:
    """A 44-byte PCM header; with ``frames=None`` the sizes say "streaming, length unknown"."""
    block = channels * bits // 8
    if frames is None:
        riff_size = data_size = STREAMING_SIZE
    else:
        data_size = frames * block
        riff_size = 36 + data_size
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, _FORMAT_PCM, channels, rate, rate * block, block, bits)
        + b"data"
        + struct.pack("<I", data_size)
    )


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples to little-endian 16-bit PCM, with rounding and clipping."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return np.round(clipped * 32767.0).astype("<i2").tobytes()


def encode_wav(audio: Audio) -> bytes:
    return wav_header(audio.rate, frames=len(audio.samples)) + to_pcm16(audio.samples)
