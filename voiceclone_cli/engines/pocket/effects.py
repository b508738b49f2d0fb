"""Speed and pitch for pocket-tts, which has neither: a post-process on each chunk's audio.

pocket-tts speaks at the pace and pitch its voice prompt implies and offers no control over
either, so ``--speed`` and ``--pitch`` are applied afterwards, in numpy and soxr alone (both
already core dependencies; the usual libraries for this, Rubber Band and its wrappers, are GPL
and the core stays MIT-compatible):

- speed is a WSOLA time-stretch (waveform-similarity overlap-add): short windows of the input
  are re-spaced and cross-faded, each nudged to where it best continues the previous one, so the
  glottal pulses line up and the pitch stays where it was;
- pitch is the same stretch followed by resampling back to the wanted length, which scales every
  frequency by the stretch ratio. That moves the formants with the pitch (no formant
  preservation): a raised voice sounds a little smaller, a lowered one larger, rather than the
  same speaker higher or lower. That is the documented trade-off for staying permissive and
  dependency-free; a few semitones sound natural, an octave sounds like another person.
"""

from __future__ import annotations

from voiceclone_cli.audio.wav import Audio

# Same scale as the local engine: --pitch 1.0 is an octave up, -1.0 an octave down.
PITCH_SEMITONES_PER_UNIT = 12.0
# Part of the engine version (and so of the response cache key): bump when the sound changes.
EFFECTS_VERSION = "wsola-1"

# Long enough to hold two periods of a low voice (so a window carries its pitch), short enough
# that a phoneme's spectrum barely changes inside it.
WINDOW_SECONDS = 0.030
# How far a window may move to line up with its predecessor: half the period of a 50 Hz voice,
# so any speaking voice's pulses can be matched.
TOLERANCE_SECONDS = 0.010


def change_speed_and_pitch(audio: Audio, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
    """``audio`` ``speed`` times faster (same pitch) and ``pitch`` units higher (same length)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if speed == 1.0 and pitch == 0.0 or len(audio.samples) == 0:
        return audio
    import numpy as np

    from voiceclone_cli.audio.resample import resample_array

    samples = np.asarray(audio.samples, dtype=np.float32)
    target = max(1, round(len(samples) / speed))
    ratio = 2.0 ** (pitch * PITCH_SEMITONES_PER_UNIT / 12.0)
    # One stretch does both jobs: make it ``ratio`` times too long, then resampling shortens it
    # back by ``ratio`` and raises every frequency by the same factor.
    if ratio == 1.0:
        stretched = time_stretch(samples, audio.rate, target)
    else:
        # Stretched one window past the end, so the resampler's filter sees the audio go on
        # rather than stop dead (which it would ring on in the last samples kept).
        margin = round(WINDOW_SECONDS * audio.rate)
        stretched = time_stretch(samples, audio.rate, round(target * ratio), extra=margin)
        stretched = resample_array(stretched, audio.rate * ratio, audio.rate)
    out = np.zeros(target, dtype=np.float32)
    out[: min(target, len(stretched))] = stretched[:target]
    return Audio(np.clip(out, -1.0, 1.0), audio.rate)


def time_stretch(samples, rate: int, length: int, *, extra: int = 0):
    """WSOLA: ``samples`` re-timed to ``length`` samples at the same pitch (float32 array).

    ``extra`` samples more are returned past that, holding on the input's last window.
    """
    import numpy as np

    if length == len(samples) and not extra:
        return samples
    window = max(4, 2 * round(WINDOW_SECONDS * rate / 2))
    hop = window // 2  # a periodic Hann window at half overlap sums to exactly 1: no gain ripple
    tolerance = max(1, round(TOLERANCE_SECONDS * rate))
    step = len(samples) / length * hop  # input advance per output hop
    frames = (length + extra) // hop + 2  # frame k is centred on output sample k * hop

    # Zeros around the input so every window and search range stays inside the array, even for
    # audio shorter than one window; the first window is centred on the first sample.
    front = hop + tolerance
    back = window + tolerance + hop + int(np.ceil(step)) * (frames - length // hop)
    padded = np.concatenate([np.zeros(front, np.float32), samples, np.zeros(back, np.float32)])
    squares = np.concatenate([[0.0], np.cumsum(padded.astype(np.float64) ** 2)])
    fade = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)).astype(np.float32)

    out = np.zeros((frames + 1) * hop, dtype=np.float32)
    start = front - hop  # frame 0 as it is, centred on the input's first sample
    for k in range(frames):
        if k:
            # The window that would naturally follow the last one copied: the best candidate
            # near the nominal position is the one most like it (normalised correlation, so a
            # loud neighbour does not win just by being loud).
            follow = padded[start + hop: start + hop + window]
            # Held back from the end so the last windows still read audio, not the padding
            # (which would fade the tail out when slowing down); at most the search tolerance
            # of the input's very end is then skipped when speeding up.
            nominal = front - hop + min(round(k * step), max(len(samples) - hop - tolerance, 0))
            lo = nominal - tolerance
            region = padded[lo: lo + window + 2 * tolerance]
            score = np.correlate(region, follow, mode="valid")
            energy = squares[lo + window: lo + window + 2 * tolerance + 1] - squares[lo: lo + 2 * tolerance + 1]
            start = lo + int(np.argmax(score / np.sqrt(energy + 1e-12)))
        out[k * hop: k * hop + window] += fade * padded[start: start + window]
    # Output sample 0 is the centre of frame 0.
    return out[hop: hop + length + extra]
