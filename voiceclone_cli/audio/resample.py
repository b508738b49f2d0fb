"""Sample-rate conversion (soxr: high quality, small wheel, no system libraries)."""

from __future__ import annotations

from voiceclone_cli.audio.wav import Audio


def resample_array(samples, rate_in: int, rate_out: int):
    """soxr HQ resampling of a 1-D array, keeping its dtype (float32 or float64)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples
    import soxr

    return soxr.resample(samples, rate_in, rate_out, quality="HQ")


def resample(audio: Audio, rate: int) -> Audio:
    """The same sound at ``rate`` (times in seconds, such as ``sentence_bounds``, still hold)."""
    if audio.rate == rate or len(audio.samples) == 0:
        return Audio(audio.samples, rate, audio.sentence_bounds)
    import numpy as np

    out = resample_array(audio.samples, audio.rate, rate)
    return Audio(np.ascontiguousarray(out, dtype=np.float32), rate, audio.sentence_bounds)
