"""Phone labels for the voice sample, whose transcript is unknown (PocketSphinx)."""

from __future__ import annotations

import os

import numpy as np

from .dsp import resample
from .phones import PHONE_CODE, SILENCE_CODE

_ASR_RATE = 16000
_ASR_FRAME_S = 0.01


def _model_dir() -> str:
    import pocketsphinx

    return pocketsphinx.get_model_path()


def _int16_for_asr(pcm: np.ndarray, rate: int) -> bytes:
    y = resample(pcm, rate, _ASR_RATE)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y = y * (0.9 / peak)
    return (y * 32767.0).astype(np.int16).tobytes()


def allphone_segments(pcm: np.ndarray, rate: int) -> list[tuple[int, float, float]]:
    """Phone-loop decoding: (phone code, start s, end s) segments.

    Uses PocketSphinx's en-us acoustic model with its phone bigram model, so no
    transcript is needed. Labels are noisy but far better than none for restricting
    frame matching to the same phone.
    """
    from pocketsphinx import Decoder

    decoder = Decoder(
        samprate=_ASR_RATE,
        allphone=os.path.join(_model_dir(), "en-us", "en-us-phone.lm.bin"),
        lm=None,
        backtrace=True,
        beam=1e-20,
        pbeam=1e-20,
        lw=2.0,
        loglevel="FATAL",
    )
    decoder.start_utt()
    decoder.process_raw(_int16_for_asr(pcm, rate), full_utt=True)
    decoder.end_utt()
    segments = []
    for seg in decoder.seg():
        code = PHONE_CODE.get(seg.word, SILENCE_CODE)
        segments.append((code, seg.start_frame * _ASR_FRAME_S, (seg.end_frame + 1) * _ASR_FRAME_S))
    return segments
