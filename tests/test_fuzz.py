"""Fuzzed samples and server responses: a clear refusal or a valid result, in bounded memory.

Inputs start from real speech encoded as WAV, MP3 and M4A here, then are cut short, bit-flipped,
given absurd header fields (sizes of 0xFFFFFFFF, 2^31 frames, 65535 channels, a 4 GHz rate) or
replaced by random bytes after a real magic number. The readers may refuse them only with their
own error (``SampleError``, ``WavFormatError``), and may not allocate memory out of proportion to
the bytes they were given: a lying header must not make them reserve gigabytes.
"""

from __future__ import annotations

import functools
import io
import struct
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import voice
from voiceclone_cli.errors import SampleError
from voiceclone_cli.prepare.sample import MAX_BYTES, MAX_RATE, MAX_SECONDS, MIN_RATE, MIN_SECONDS, SUPPORTED, prepare_sample
from voiceclone_cli.audio.wav import WavFormatError, parse_wav

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Peak Python/numpy allocation allowed while reading an input: decoding expands compressed
# audio (an MP3 at 32 kbit/s is ~16x smaller than its float samples, and decoding keeps a copy),
# and the decoders' first use imports modules. Gigabytes, what a trusting reader would reserve
# for a lying header, are far outside this.
MEMORY_PER_INPUT_BYTE = 64
MEMORY_MARGIN = 64 << 20

INTERESTING_32 = [0, 1, 2, 7999, 65535, 65536, 384_001, 0x7FFFFFFF, 0x80000000, 4_000_000_000,
                  0xFFFFFFFE, 0xFFFFFFFF]
INTERESTING_16 = [0, 1, 2, 3, 8, 24, 64, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFE, 0xFFFF]
# Fields of the canonical 44-byte WAV header: (offset, struct format).
WAV_FIELDS = {
    "riff_size": (4, "<I"), "fmt_size": (16, "<I"), "format_tag": (20, "<H"), "channels": (22, "<H"),
    "rate": (24, "<I"), "byte_rate": (28, "<I"), "block_align": (32, "<H"), "bits": (34, "<H"),
    "data_size": (40, "<I"),
}


# ---- seed files ---------------------------------------------------------------------------


@functools.cache
def seeds() -> dict[str, bytes]:
    """6 s of real speech as a 16-bit WAV, an MP3 and an M4A (made here, never stored)."""
    samples, rate = sf.read(voice("p225/p225_023.wav"), dtype="float32")
    samples = samples[: 6 * rate]
    wav = io.BytesIO()
    sf.write(wav, samples, rate, format="WAV", subtype="PCM_16")
    return {"WAV": wav.getvalue(), "MP3": _encode(samples, rate, "mp3", "libmp3lame"),
            "M4A": _encode(samples, rate, "ipod", "aac")}


def _encode(samples: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = 32000
        size = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), size):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + size], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            muxer.mux(stream.encode(frame))
        muxer.mux(stream.encode(None))
    return out.getvalue()


# ---- mutations ----------------------------------------------------------------------------

positions = st.one_of(st.integers(0, 300), st.integers(0, 1 << 20))  # headers are near the start
mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), positions, st.integers(0, 7)),
    st.tuples(st.just("poke32"), positions, st.one_of(st.sampled_from(INTERESTING_32), st.integers(0, 2**32 - 1))),
    st.tuples(st.just("poke16"), positions, st.sampled_from(INTERESTING_16)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("wav_field"), st.sampled_from(sorted(WAV_FIELDS)),
              st.one_of(st.sampled_from(INTERESTING_32), st.integers(0, 2**32 - 1))),
)
mutations = st.lists(mutation, min_size=1, max_size=4)


def mutate(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op, *args in ops:
        if op == "truncate":
            del out[int(len(out) * args[0]) :]
        elif not out:
            continue
        elif op == "flip":
            out[args[0] % len(out)] ^= 1 << args[1]
        elif op in ("poke32", "poke16"):
            packed = struct.pack("<I" if op == "poke32" else "<H", args[1])
            at = args[0] % len(out)
            out[at : at + len(packed)] = packed
        elif op == "insert":
            at = args[0] % (len(out) + 1)
            out[at:at] = args[1]
        elif op == "wav_field":
            offset, fmt = WAV_FIELDS[args[0]]
            if offset + struct.calcsize(fmt) <= len(out):
                struct.pack_into(fmt, out, offset, args[1] & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
    return bytes(out)


def wav_with_header(*, format_tag=1, channels=1, rate=16000, bits=16, data_size=None, body_bytes=None) -> bytes:
    """The seed WAV's PCM behind a header that says whatever the test wants."""
    body = seeds()["WAV"][44:] if body_bytes is None else seeds()["WAV"][44 : 44 + body_bytes]
    block = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    size = len(body) if data_size is None else data_size
    riff = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size) + body
    return b"RIFF" + struct.pack("<I", len(riff) & 0xFFFFFFFF) + riff


# ---- checks -------------------------------------------------------------------------------


def peak_memory(call):
    """(result or the expected error, peak bytes traced while ``call`` ran)."""
    tracemalloc.start()
    try:
        try:
            result = call()
        except (SampleError, WavFormatError) as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def check_sample(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="voiceclone-fuzz-") as folder:
        path = Path(folder) / "sample.bin"
        path.write_bytes(data)
        result, peak = peak_memory(lambda: prepare_sample(path))
    assert peak <= MEMORY_PER_INPUT_BYTE * len(data) + MEMORY_MARGIN, f"{peak >> 20} MB for {len(data)} bytes"
    if isinstance(result, SampleError):
        assert result.message and "\n" not in result.message
        return
    assert result.format in SUPPORTED and len(result.data) <= MAX_BYTES
    assert MIN_RATE <= result.rate <= MAX_RATE
    assert MIN_SECONDS <= result.seconds <= MAX_SECONDS
    assert result.samples.dtype == np.float32 and result.samples.ndim == 1
    assert np.isfinite(result.samples).all()


def check_response(data: bytes, allow_streaming_size: bool) -> None:
    result, peak = peak_memory(lambda: parse_wav(data, allow_streaming_size=allow_streaming_size))
    assert peak <= 16 * len(data) + (16 << 20), f"{peak >> 20} MB for {len(data)} bytes"
    if isinstance(result, WavFormatError):
        return
    assert 1000 <= result.rate <= 384_000 and len(result.samples) > 0
    assert result.samples.dtype == np.float32
    assert np.isfinite(result.samples).all() and np.abs(result.samples).max() <= 1.0


# ---- properties ---------------------------------------------------------------------------


@FUZZ
@given(seed=st.sampled_from(["WAV", "MP3", "M4A"]), ops=mutations)
def test_mutated_samples_are_refused_clearly_or_accepted_whole(seed, ops):
    check_sample(mutate(seeds()[seed], ops))


@FUZZ
@given(
    magic=st.sampled_from([b"RIFF\xff\xff\xff\xffWAVE", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"ID3\x04\x00",
                           b"\xff\xfb\x90\x64", b"\x00\x00\x00\x18ftypM4A ", b""]),
    tail=st.binary(max_size=4096),
)
def test_random_bytes_behind_a_real_magic_number_are_refused(magic, tail):
    check_sample(magic + tail)


header_values = st.one_of(st.sampled_from(INTERESTING_32), st.integers(0, 2**32 - 1))
header_shorts = st.one_of(st.sampled_from(INTERESTING_16), st.integers(0, 0xFFFF))


@FUZZ
@given(format_tag=st.sampled_from([1, 3, 6, 7, 0x11, 0xFFFE]) | header_shorts,
       channels=header_shorts, rate=header_values, bits=st.sampled_from([8, 16, 24, 32, 64]) | header_shorts,
       data_size=st.none() | header_values, body_bytes=st.none() | st.integers(0, 4096))
# 128 channels at 100 Hz over real audio: accepted as a 7.5 s sample and uploaded as it was.
@example(format_tag=1, channels=128, rate=100, bits=16, data_size=None, body_bytes=None)
# 16-bit PCM read as 32-bit float holds NaNs: accepted, and uploaded, as if it were audio.
@example(format_tag=3, channels=1, rate=8000, bits=32, data_size=None, body_bytes=None)
@example(format_tag=1, channels=65535, rate=16000, bits=16, data_size=0xFFFFFFFF, body_bytes=None)
@example(format_tag=1, channels=1, rate=4_000_000_000, bits=16, data_size=2**31, body_bytes=None)
def test_absurd_wav_headers_in_samples(format_tag, channels, rate, bits, data_size, body_bytes):
    check_sample(wav_with_header(format_tag=format_tag, channels=channels, rate=rate, bits=bits,
                                 data_size=data_size, body_bytes=body_bytes))


@FUZZ
@given(ops=mutations, allow_streaming_size=st.booleans())
@example(ops=[("wav_field", "data_size", 0xFFFFFFFF)], allow_streaming_size=True)
@example(ops=[("wav_field", "channels", 65535), ("wav_field", "bits", 8)], allow_streaming_size=False)
def test_mutated_responses_parse_or_are_refused(ops, allow_streaming_size):
    check_response(mutate(seeds()["WAV"], ops), allow_streaming_size)


@FUZZ
@given(format_tag=st.sampled_from([1, 3, 0xFFFE]) | header_shorts, channels=header_shorts, rate=header_values,
       bits=st.sampled_from([8, 16, 24, 32, 64]) | header_shorts, data_size=st.none() | header_values,
       body_bytes=st.none() | st.integers(0, 4096), allow_streaming_size=st.booleans())
def test_absurd_wav_headers_in_responses(format_tag, channels, rate, bits, data_size, body_bytes, allow_streaming_size):
    data = wav_with_header(format_tag=format_tag, channels=channels, rate=rate, bits=bits,
                           data_size=data_size, body_bytes=body_bytes)
    check_response(data, allow_streaming_size)


def test_the_seeds_are_valid_samples():
    """The mutations start from files the reader accepts, so they reach the decoders."""
    for fmt, data in seeds().items():
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "seed"
            path.write_bytes(data)
            prepared = prepare_sample(path)
        assert prepared.format == fmt and prepared.seconds == pytest.approx(6.0, abs=0.1)
