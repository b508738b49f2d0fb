"""Programme loudness (ITU-R BS.1770-4) and true peak, measured block by block.

Written here with numpy alone rather than with pyloudnorm: pyloudnorm needs scipy (a large
wheel the rest of voiceclone never uses) for its two biquad filters. The K-weighting cascade
is applied as an FIR filter: its impulse response (0.5 s; the 38 Hz high-pass has decayed by
far more than 100 dB by then) is computed once per rate and convolved block by block with
FFT overlap-add, so any length of audio is measured in constant memory. What is kept is one
number per 100 ms (the gating blocks are 400 ms with 75 % overlap, built from those), which
for a 10-hour book is 360,000 floats.

True peak is the peak of the signal oversampled 4x (soxr), as BS.1770-4 Annex 2 describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_IMPULSE_SECONDS = 0.5
_STEP_SECONDS = 0.1  # gating blocks start every 100 ms and last 400 ms
_OVERSAMPLE = 4


def _biquad_coefficients(rate: int) -> list[tuple[list[float], list[float]]]:
    """The two K-weighting stages (shelf, then RLB high-pass) for ``rate``, as (b, a).

    The analogue prototypes fitted to the 48 kHz coefficients of BS.1770 (as libebur128 does),
    so other rates get the same curve.
    """
    fc, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * fc / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    shelf_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    fc, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * fc / rate)
    a0 = 1 + k / q + k * k
    high_b = [1.0, -2.0, 1.0]
    high_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return [(shelf_b, shelf_a), (high_b, high_a)]


def k_weighting_impulse(rate: int) -> np.ndarray:
    """The cascade's impulse response, by running the difference equations on a unit pulse."""
    n = int(_IMPULSE_SECONDS * rate)
    signal = [0.0] * n
    signal[0] = 1.0
    for b, a in _biquad_coefficients(rate):
        out = [0.0] * n
        x1 = x2 = y1 = y2 = 0.0
        b0, b1, b2 = (float(v) for v in b)
        a1, a2 = float(a[1]), float(a[2])
        for i, x in enumerate(signal):
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            out[i] = y
            x2, x1, y2, y1 = x1, x, y1, y
        signal = out
    return np.array(signal, dtype=np.float64)


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None: nothing above the absolute gate (silence)
    true_peak_dbtp: float


class LoudnessMeter:
    """Feed mono blocks in order with ``add``; ask ``result()`` at the end."""

    def __init__(self, rate: int) -> None:
        import soxr

        self.rate = rate
        self._impulse = k_weighting_impulse(rate)
        self._spectra: dict[int, np.ndarray] = {}  # the impulse's FFT, by transform size
        self._tail = np.zeros(len(self._impulse) - 1)
        self._step = max(1, round(_STEP_SECONDS * rate))
        self._partial = np.zeros(0)
        self._energies: list[float] = []  # mean square of each 100 ms step, K-weighted
        self._upsampler = soxr.ResampleStream(rate, rate * _OVERSAMPLE, 1, dtype="float32")
        self._peak = 0.0

    def add(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        samples = np.asarray(samples, dtype=np.float32)
        self._peak = max(self._peak, float(np.max(np.abs(samples))))
        oversampled = self._upsampler.resample_chunk(samples)
        if len(oversampled):
            self._peak = max(self._peak, float(np.max(np.abs(oversampled))))
        weighted = self._filter(samples.astype(np.float64))
        data = np.concatenate([self._partial, weighted * weighted])
        whole = len(data) // self._step * self._step
        if whole:
            self._energies.extend(data[:whole].reshape(-1, self._step).mean(axis=1).tolist())
        self._partial = data[whole:]

    def _filter(self, x: np.ndarray) -> np.ndarray:
        size = 1 << int(math.ceil(math.log2(len(x) + len(self._impulse) - 1)))
        if size not in self._spectra:
            self._spectra[size] = np.fft.rfft(self._impulse, size)
        y = np.fft.irfft(np.fft.rfft(x, size) * self._spectra[size], size)[: len(x) + len(self._impulse) - 1]
        y[: len(self._tail)] += self._tail[: len(y)]
        if len(self._tail) > len(y):  # a block shorter than the impulse response
            carried = np.zeros(len(self._tail))
            carried[: len(self._tail) - len(y)] = self._tail[len(y):]
            carried[: len(y) - len(x)] += y[len(x):]
            self._tail = carried
        else:
            self._tail = y[len(x):].copy()
        return y[: len(x)]

    def result(self) -> Loudness:
        rest = self._upsampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(rest):
            self._peak = max(self._peak, float(np.max(np.abs(rest))))
        peak_db = 20 * math.log10(self._peak) if self._peak > 0 else -math.inf
        steps = np.array(self._energies)
        if len(steps) < 4:
            return Loudness(None, peak_db)
        blocks = (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / 4
        with np.errstate(divide="ignore"):
            levels = -0.691 + 10 * np.log10(blocks)
        kept = blocks[levels > ABSOLUTE_GATE_LUFS]
        if not len(kept):
            return Loudness(None, peak_db)
        relative = -0.691 + 10 * math.log10(kept.mean()) + RELATIVE_GATE_LU
        with np.errstate(divide="ignore"):
            kept = kept[-0.691 + 10 * np.log10(kept) > relative]
        return Loudness(-0.691 + 10 * math.log10(kept.mean()), peak_db)


def gain_for(measured: Loudness, target_lufs: float, ceiling_dbtp: float = -1.0) -> float:
    """The one gain (dB) that brings ``measured`` to the target, lowered as far as needed to
    keep the true peak under the ceiling (then the result is quieter than the target)."""
    if measured.integrated_lufs is None:
        return 0.0
    gain = target_lufs - measured.integrated_lufs
    if measured.true_peak_dbtp + gain > ceiling_dbtp:
        gain = ceiling_dbtp - measured.true_peak_dbtp
    return gain
