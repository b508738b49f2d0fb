"""Speed and pitch for pocket-tts, which has neither: a post-process on each chunk's audio.

pocket-tts speaks at the pace and pitch its voice prompt implies and offers no control over
either. ``--speed`` and ``--pitch`` are therefore applied afterwards with Rubber Band's
time-stretcher and pitch-shifter as bundled in Spotify's ``pedalboard`` wheel (no system binary):
the tempo changes without changing the pitch, and the pitch moves with the formants kept, so a
raised voice still sounds like the same speaker rather than a sped-up tape.
"""

from __future__ import annotations

from voiceclone_cli.audio.wav import Audio

# Same scale as the local engine: --pitch 1.0 is an octave up, -1.0 an octave down.
PITCH_SEMITONES_PER_UNIT = 12.0
# Part of the engine version (and so of the response cache key): bump when the sound changes.
EFFECTS_VERSION = "rubberband-1"


def change_speed_and_pitch(audio: Audio, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
    """``audio`` ``speed`` times faster (same pitch) and ``pitch`` units higher (same tempo)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if speed == 1.0 and pitch == 0.0 or len(audio.samples) == 0:
        return audio
    import numpy as np
    from pedalboard import time_stretch

    out = time_stretch(
        np.ascontiguousarray(audio.samples, dtype=np.float32)[None, :], float(audio.rate),
        stretch_factor=float(speed), pitch_shift_in_semitones=float(pitch) * PITCH_SEMITONES_PER_UNIT,
        preserve_formants=True,
    )
    return Audio(np.clip(out[0], -1.0, 1.0).astype(np.float32), audio.rate)
