import io
import struct
import wave

import numpy as np
import pytest
import soundfile as sf

from voiceclone_cli.audio.wav import STREAMING_SIZE, Audio, WavFormatError, encode_wav, parse_wav, wav_header


def _wav_bytes(samples, rate=16000, channels=1, width=2):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples)
    return buf.getvalue()


def test_parses_pcm16_and_downmixes_stereo():
    left = (np.ones(100) * 16384).astype("<i2")
    right = np.zeros(100, dtype="<i2")
    stereo = np.stack([left, right], axis=1).reshape(-1).tobytes()
    audio = parse_wav(_wav_bytes(stereo, 22050, channels=2))
    assert audio.rate == 22050
    assert len(audio.samples) == 100
    assert np.allclose(audio.samples, 0.25, atol=1e-4)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "PCM_U8"])
def test_parses_what_soundfile_writes(subtype):
    x = (np.sin(np.arange(1000) / 7) * 0.5).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, x, 8000, subtype=subtype, format="WAV")
    audio = parse_wav(buf.getvalue())
    assert np.allclose(audio.samples, x, atol=1e-2)


def test_truncated_body_is_refused():
    data = _wav_bytes(np.zeros(1000, dtype="<i2").tobytes())
    with pytest.raises(WavFormatError, match="truncated"):
        parse_wav(data[:-100])


@pytest.mark.parametrize("data", [b"", b"<html>oops</html>", b"RIFF\x00\x00\x00\x00WAVE", b"RIFF" + struct.pack("<I", 4) + b"WAVEdata" + struct.pack("<I", 0)])
def test_garbage_is_refused(data):
    with pytest.raises(WavFormatError):
        parse_wav(data)


def test_header_only_file_has_no_frames():
    with pytest.raises(WavFormatError, match="no audio frames"):
        parse_wav(_wav_bytes(b""))


def test_streaming_header_uses_unknown_sizes_and_is_readable():
    x = (np.sin(np.arange(4000) / 5) * 0.3).astype(np.float32)
    data = wav_header(16000) + encode_wav(Audio(x, 16000))[44:]
    assert struct.unpack_from("<I", data, 4)[0] == STREAMING_SIZE
    assert struct.unpack_from("<I", data, 40)[0] == STREAMING_SIZE
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 16000 and len(decoded) == 4000
    with pytest.raises(WavFormatError):
        parse_wav(data)  # a server must send real sizes
    assert len(parse_wav(data, allow_streaming_size=True).samples) == 4000


def test_encode_roundtrip():
    x = np.linspace(-1, 1, 500, dtype=np.float32)
    audio = parse_wav(encode_wav(Audio(x, 44100)))
    assert audio.rate == 44100 and np.allclose(audio.samples, x, atol=1e-4)
