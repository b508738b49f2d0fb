"""Audio for HTTP answers, encoded as it is made so a stream can start after one chunk.

WAV and PCM need nothing but a header (WAV's streaming one when the length is not known yet);
the compressed formats go through PyAV's bundled FFmpeg into a write-only buffer, so the muxer
never seeks back and every byte it produces can be sent at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class SpeechFormat:
    name: str
    media_type: str
    container: str | None  # FFmpeg muxer; None: written here (wav, pcm)
    codec: str | None
    rates: tuple[int, ...] | None = None  # the only rates the encoder takes, if limited

    def rate_for(self, rate: int) -> int:
        if self.rates is None or rate in self.rates:
            return rate
        higher = [r for r in self.rates if r >= rate]
        return min(higher) if higher else max(self.rates)


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
SPEECH_FORMATS: dict[str, SpeechFormat] = {
    "mp3": SpeechFormat("mp3", "audio/mpeg", "mp3", "libmp3lame", _MP3_RATES),
    "opus": SpeechFormat("opus", "audio/ogg", "ogg", "libopus", (8000, 12000, 16000, 24000, 48000)),
    "aac": SpeechFormat("aac", "audio/aac", "adts", "aac"),
    "flac": SpeechFormat("flac", "audio/flac", "flac", "flac"),
    "wav": SpeechFormat("wav", "audio/wav", None, None),
    "pcm": SpeechFormat("pcm", "audio/pcm", None, None),
}


class _Collected:
    """A write-only file for the muxer: what it writes is taken away by ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class StreamEncoder:
    """Samples in, encoded bytes out, chunk by chunk; ``finish`` flushes the encoder."""

    def __init__(self, fmt: SpeechFormat, rate: int, *, streaming_header: bool = True) -> None:
        self.format = fmt
        self.rate = rate
        self._header_pending = fmt.name == "wav" and streaming_header
        self._out: _Collected | None = None
        if fmt.container is not None:
            import av

            self._out = _Collected()
            self._container = av.open(self._out, mode="w", format=fmt.container)
            self._stream = self._container.add_stream(fmt.codec, rate=rate, layout="mono")
            self._resampler = None
            self._pts = 0

    def encode(self, samples: np.ndarray) -> bytes:
        from voiceclone_cli.audio.wav import to_pcm16, wav_header

        if self._out is None:
            head = b""
            if self._header_pending:
                head, self._header_pending = wav_header(self.rate), False
            return head + to_pcm16(samples)
        if len(samples):
            self._mux(self._frame(samples))
        return self._out.take()

    def finish(self) -> bytes:
        if self._out is None:
            return self.encode(_empty())
        self._mux(None)
        self._container.close()
        return self._out.take()

    def _frame(self, samples: np.ndarray):
        import av
        import numpy as np

        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.rate
        frame.pts = self._pts
        self._pts += len(samples)
        return frame

    def _mux(self, frame) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)


def _empty():
    import numpy as np

    return np.zeros(0, dtype=np.float32)


def encode_whole(fmt: SpeechFormat, samples: np.ndarray, rate: int) -> bytes:
    """A complete file (a WAV with its real sizes, so a Content-Length can be sent)."""
    if fmt.name == "wav":
        from voiceclone_cli.audio.wav import Audio, encode_wav

        return encode_wav(Audio(samples, rate))
    encoder = StreamEncoder(fmt, rate)
    return encoder.encode(samples) + encoder.finish()
