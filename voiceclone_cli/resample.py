"""Sample-rate conversion (soxr: high quality, small wheel, no system libraries)."""

from __future__ import annotations

from voiceclone_cli.wav import Audio


def resample(audio: Audio, rate: int) -> Audio:
    if audio.rate == rate or len(audio.samples) == 0:
        return Audio(audio.samples, rate)
    import numpy as np
    import soxr

    out = soxr.resample(audio.samples, audio.rate, rate, quality="HQ")
    return Audio(np.ascontiguousarray(out, dtype=np.float32), rate)
