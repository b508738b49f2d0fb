"""Joining chunk audio into one seamless stream.

Each chunk is brought to the output rate, its edge silence trimmed to a short pad, its level
matched to the first chunk, and it is cross-faded into the previous one with an equal-power
curve. Only the last ``crossfade`` samples are ever held back, so audio can be passed on as
soon as a chunk arrives and memory does not grow with the length of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voiceclone_cli.audio.resample import resample
from voiceclone_cli.audio.wav import Audio

_FRAME_SECONDS = 0.01
_EDGE_FADE_SECONDS = 0.005


@dataclass(frozen=True)
class JoinSettings:
    pad_seconds: float = 0.12  # silence kept at each trimmed edge: a natural pause when joined
    crossfade_seconds: float = 0.03
    trim_below_peak_db: float = 40.0  # frames this far under the loudest frame count as silence
    max_gain_db: float = 12.0  # loudness matching never boosts or cuts more than this
    peak_ceiling: float = 0.98


def frame_levels_db(samples: np.ndarray, rate: int, frame_seconds: float = _FRAME_SECONDS) -> np.ndarray:
    """RMS level of consecutive frames, in dBFS (one value for a signal shorter than a frame)."""
    hop = max(1, int(rate * frame_seconds))
    n = len(samples) // hop
    if n == 0:
        rms = np.sqrt(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
        return np.array([20 * np.log10(max(rms, 1e-7))])
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    return 20 * np.log10(np.maximum(np.sqrt(np.mean(frames * frames, axis=1)), 1e-7))


def trim_bounds(
    samples: np.ndarray, rate: int, pad_seconds: float, below_peak_db: float = 40.0,
    frame_seconds: float = _FRAME_SECONDS,
) -> tuple[int, int]:
    """The part of ``samples`` kept when leading/trailing silence (frames ``below_peak_db``
    under the loudest) is cut to a pad, as (start, end) sample indices."""
    db = frame_levels_db(samples, rate, frame_seconds)
    threshold = max(db.max() - below_peak_db, -70.0)
    active = (db > threshold).nonzero()[0]
    if len(active) == 0:
        return 0, min(len(samples), int(2 * pad_seconds * rate))
    hop = max(1, int(rate * frame_seconds))
    pad = int(pad_seconds * rate)
    start = max(0, active[0] * hop - pad)
    end = min(len(samples), (active[-1] + 1) * hop + pad)
    return start, end


def trim_to_pad(
    samples: np.ndarray, rate: int, pad_seconds: float, below_peak_db: float = 40.0,
    frame_seconds: float = _FRAME_SECONDS,
) -> np.ndarray:
    """Cut leading/trailing silence (frames ``below_peak_db`` under the loudest) to a pad."""
    start, end = trim_bounds(samples, rate, pad_seconds, below_peak_db, frame_seconds)
    return samples[start:end]


def active_level_db(samples: np.ndarray, rate: int) -> float | None:
    """RMS level of the speech frames (within 30 dB of the loudest), or None for silence."""
    db = frame_levels_db(samples, rate)
    if db.max() < -60.0:
        return None
    speech = db[db > db.max() - 30.0]
    power = np.mean(np.power(10.0, speech / 10.0))
    return float(10 * np.log10(power))


def equal_power_crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Mix two equally long segments with cos/sin gains (constant power through the fade)."""
    n = len(tail)
    if n == 0:
        return tail
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    fade_out = np.cos(t * np.pi / 2)
    fade_in = np.sin(t * np.pi / 2)
    return (tail * fade_out + head * fade_in).astype(np.float32)


class Joiner:
    """Streams chunk audio out as one continuous signal; see the module docstring."""

    def __init__(self, rate: int | None = None, settings: JoinSettings = JoinSettings()) -> None:
        self.rate = rate
        self.settings = settings
        self._reference_db: float | None = None
        self._held = np.zeros(0, dtype=np.float32)
        self._started = False
        self.frames_out = 0
        self.joins: list[int] = []  # output sample index at the centre of each cross-fade
        # Where the last chunk added sits in the output (first, end sample index): the time
        # its sentences are given in subtitles. Its first 30 ms overlap the previous chunk.
        self.last_span: tuple[int, int] = (0, 0)
        # How many of the last chunk's own samples (at the output rate) were trimmed from its
        # start: a time inside the chunk is ``last_span[0] + its sample - last_trim`` out.
        self.last_trim = 0

    def add(self, audio: Audio) -> np.ndarray:
        """Take the next chunk in order; return the samples that are now final."""
        if self.rate is None:
            self.rate = audio.rate
        samples = resample(audio, self.rate).samples if audio.rate != self.rate else audio.samples
        samples = np.asarray(samples, dtype=np.float32)
        start, end = trim_bounds(samples, self.rate, self.settings.pad_seconds, self.settings.trim_below_peak_db)
        samples = samples[start:end]
        self.last_trim = start
        samples = self._match_level(samples)
        if not self._started:
            samples = samples.copy()
            fade = min(len(samples), int(_EDGE_FADE_SECONDS * self.rate))
            samples[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
            self._started = True
            ready = samples
            self.last_span = (self.frames_out, self.frames_out + len(samples))
        else:
            n = min(len(self._held), len(samples), int(self.settings.crossfade_seconds * self.rate))
            self.joins.append(self.frames_out + len(self._held) - n + n // 2)
            mixed = equal_power_crossfade(self._held[len(self._held) - n :], samples[:n])
            ready = np.concatenate([self._held[: len(self._held) - n], mixed, samples[n:]])
            start = self.frames_out + len(self._held) - n
            self.last_span = (start, start + len(samples))
        keep = min(len(ready), int(self.settings.crossfade_seconds * self.rate))
        self._held = ready[len(ready) - keep :]
        out = ready[: len(ready) - keep]
        self.frames_out += len(out)
        return out

    def finish(self) -> np.ndarray:
        """Release the held tail with a short fade so the stream never ends on a click."""
        tail = self._held.copy()
        fade = min(len(tail), int(_EDGE_FADE_SECONDS * (self.rate or 0)))
        if fade:
            tail[len(tail) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        self._held = np.zeros(0, dtype=np.float32)
        self.frames_out += len(tail)
        return tail

    def pause(self, frames: int) -> np.ndarray:
        """End the stream so far and add ``frames`` of exact silence after it.

        The held tail is released with its fade (nothing is cross-faded into the silence) and
        the next chunk starts afresh with a fade-in, so the silence is neither trimmed nor
        faded away; the level reference is kept, so speech after a pause matches speech
        before it.
        """
        tail = self.finish()
        self._started = False
        self.frames_out += frames
        return np.concatenate([tail, np.zeros(frames, dtype=np.float32)])

    def _match_level(self, samples: np.ndarray) -> np.ndarray:
        level = active_level_db(samples, self.rate or 1)
        if level is None:
            return samples
        if self._reference_db is None:
            self._reference_db = level
            gain_db = 0.0
        else:
            limit = self.settings.max_gain_db
            gain_db = float(np.clip(self._reference_db - level, -limit, limit))
        gain = 10 ** (gain_db / 20)
        peak = float(np.max(np.abs(samples))) * gain
        if peak > self.settings.peak_ceiling:
            gain *= self.settings.peak_ceiling / peak
        return (samples * gain).astype(np.float32) if gain != 1.0 else samples
