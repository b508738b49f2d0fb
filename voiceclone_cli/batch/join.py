"""``--join FILE``: every line's output in input order, silence between them, in one WAV.

The line files are copied block by block into an atomic file sink, so memory holds one block
(or, for a line made at another sample rate, that one line while it is resampled) however
many lines there are. The lines already carry faded edges, so plain silence joins them.
The total length is known from the files' headers before the first block is copied, so a
join too long for a RIFF header is written as RF64 from the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.plan import OutputTarget, open_stream_target

BLOCK_FRAMES = 1 << 16


@dataclass(frozen=True)
class Joined:
    """The joined file's length, and where each line starts in it (counted in frames written,
    so subtitles shifted by these land exactly on the joined audio)."""

    seconds: float
    starts: list[float]


def join_outputs(paths: Sequence[Path], target: OutputTarget, gap_seconds: float) -> Joined:
    """Write ``target`` from ``paths`` with ``gap_seconds`` between them."""
    import numpy as np
    import soundfile as sf

    from voiceclone_cli.audio.resample import resample
    from voiceclone_cli.output.sinks import AudioFileSink, WavStreamSink
    from voiceclone_cli.audio.wav import Audio

    try:
        seconds = sum(sf.info(path).duration for path in paths) + gap_seconds * max(0, len(paths) - 1)
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"cannot read a line file to join: {exc}") from None
    if target.stream:
        sink = WavStreamSink(open_stream_target(target, "--join"), str(target.shown), owns_stream=True)
    else:
        sink = AudioFileSink(target.path, shown=target.shown, expected_seconds=seconds)
    rate: int | None = None
    starts: list[float] = []
    try:
        for path in paths:
            with sf.SoundFile(path) as source:
                if rate is None:
                    rate = source.samplerate
                    sink.open(rate)
                else:
                    sink.write(np.zeros(round(gap_seconds * rate), dtype=np.float32))
                starts.append(sink.frames / rate)
                if source.samplerate == rate:
                    for block in source.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
                        sink.write(block.mean(axis=1))
                else:
                    line = source.read(dtype="float32", always_2d=True).mean(axis=1)
                    sink.write(resample(Audio(line, source.samplerate), rate).samples)
        if rate is None:
            raise OutputError(f"nothing to join into {target.shown}")
        sink.close()
    except (OSError, RuntimeError) as exc:  # RuntimeError: libsndfile could not read a line file
        sink.abort()
        raise OutputError(f"cannot write the joined file {target.shown}: {exc}") from None
    except BaseException:
        sink.abort()
        raise
    return Joined(sink.frames / rate, starts)
