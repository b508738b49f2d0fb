"""Signal-processing helpers shared by sample analysis and conversion (WORLD based)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Everything runs at Piper's sample rate so that envelopes of both sides share bins.
SAMPLE_RATE = 22050
FRAME_PERIOD_MS = 5.0
FFT_SIZE = 1024
N_BINS = FFT_SIZE // 2 + 1
F0_FLOOR = 60.0
F0_CEIL = 500.0
#: Piper joe never goes this high; a narrower search range makes Harvest faster.
SOURCE_F0_CEIL = 300.0
MEL_CEPSTRUM_DIMS = 30
F0_PERCENTILES = np.arange(2.0, 99.0, 4.0)
_LOG_FLOOR = 1e-12


@dataclass
class WorldFrames:
    """WORLD analysis of a signal at :data:`SAMPLE_RATE`, 5 ms frames."""

    f0: np.ndarray  # (T,) Hz, 0 = unvoiced
    log_sp: np.ndarray  # (T, N_BINS) natural-log power envelope
    ap: np.ndarray | None  # (T, N_BINS) aperiodicity, when requested


def _world_analyze_piece(x: np.ndarray, f0_ceil: float, with_aperiodicity: bool) -> WorldFrames:
    import pyworld

    f0, t = pyworld.harvest(x, SAMPLE_RATE, f0_floor=F0_FLOOR, f0_ceil=f0_ceil,
                            frame_period=FRAME_PERIOD_MS)
    sp = pyworld.cheaptrick(x, f0, t, SAMPLE_RATE, fft_size=FFT_SIZE)
    ap = pyworld.d4c(x, f0, t, SAMPLE_RATE, fft_size=FFT_SIZE) if with_aperiodicity else None
    return WorldFrames(f0=f0, log_sp=np.log(np.maximum(sp, _LOG_FLOOR)), ap=ap)


# Pieces analysed in parallel are cut on a 20 ms grid (441 samples = exactly 4 frames)
# and overlap by 0.1 s, so every frame is computed away from a cut with its true time.
_CUT_GRID = 441
_CUT_OVERLAP = 5 * _CUT_GRID
_FRAMES_PER_GRID = 4
_MIN_SPLIT_SECONDS = 2.0


def _quiet_cut(x: np.ndarray) -> int:
    """A cut point on the 20 ms grid near the middle, at the quietest 20 ms there."""
    n_cells = len(x) // _CUT_GRID
    cells = x[: n_cells * _CUT_GRID].reshape(n_cells, _CUT_GRID)
    energy = np.sum(cells ** 2, axis=1)
    lo, hi = int(n_cells * 0.35), int(n_cells * 0.65)
    return (lo + int(np.argmin(energy[lo:hi]))) * _CUT_GRID


def world_analyze(x: np.ndarray, f0_ceil: float, with_aperiodicity: bool) -> WorldFrames:
    """Harvest F0, CheapTrick envelope and optionally D4C aperiodicity.

    Harvest rather than DIO: on Piper joe's low, often creaky voice DIO makes octave
    errors in about 40 % of voiced frames, which resynthesis turns into audible breaks.
    Harvest is the slowest step, so signals longer than 2 s are cut in two at a quiet
    point and analysed on two threads (WORLD releases the GIL) when a core is idle
    (``cores.CORES``), else one after the other: the same frames either way.
    """
    from concurrent.futures import ThreadPoolExecutor

    from voiceclone_cli.engines.local.cores import CORES

    x = np.ascontiguousarray(x, dtype=np.float64)
    if len(x) < _MIN_SPLIT_SECONDS * SAMPLE_RATE:
        return _world_analyze_piece(x, f0_ceil, with_aperiodicity)
    cut = _quiet_cut(x)
    first, second = x[: cut + _CUT_OVERLAP], x[cut - _CUT_OVERLAP:]
    with CORES.extra_core() as spare:  # no idle core: the halves one after the other, same frames
        if spare:
            with ThreadPoolExecutor(max_workers=1) as pool:
                later = pool.submit(_world_analyze_piece, second, f0_ceil, with_aperiodicity)
                a = _world_analyze_piece(first, f0_ceil, with_aperiodicity)
                b = later.result()
        else:
            a = _world_analyze_piece(first, f0_ceil, with_aperiodicity)
            b = _world_analyze_piece(second, f0_ceil, with_aperiodicity)
    n_first = cut // _CUT_GRID * _FRAMES_PER_GRID
    skip = _CUT_OVERLAP // _CUT_GRID * _FRAMES_PER_GRID
    n_total = int(len(x) / SAMPLE_RATE * 1000.0 / FRAME_PERIOD_MS) + 1

    def join(u, v):
        return np.concatenate([u[:n_first], v[skip:]])[:n_total]

    return WorldFrames(
        f0=join(a.f0, b.f0),
        log_sp=join(a.log_sp, b.log_sp),
        ap=join(a.ap, b.ap) if with_aperiodicity else None,
    )


def world_synthesize(f0: np.ndarray, log_sp: np.ndarray, ap: np.ndarray) -> np.ndarray:
    import pyworld

    return pyworld.synthesize(
        np.ascontiguousarray(f0, dtype=np.float64),
        np.ascontiguousarray(np.exp(log_sp), dtype=np.float64),
        np.ascontiguousarray(ap, dtype=np.float64),
        SAMPLE_RATE,
        FRAME_PERIOD_MS,
    )


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Float64 (what WORLD needs) at ``rate_out``, through the project's one resampler."""
    from voiceclone_cli.audio.resample import resample_array

    return resample_array(np.asarray(x, dtype=np.float64), rate_in, rate_out)


def bin_frequencies() -> np.ndarray:
    return np.arange(N_BINS) * (SAMPLE_RATE / FFT_SIZE)


@lru_cache(maxsize=4)
def mel_cepstrum_matrix(dims: int = MEL_CEPSTRUM_DIMS) -> np.ndarray:
    """(N_BINS, dims) linear map from a log envelope to its mel cepstrum.

    Same construction as WORLD's coded spectral envelope (log spectrum resampled on a
    mel axis, then DCT-II), but as a matrix so it is linear and vectorised: the mel
    cepstrum of a mean log envelope is the mean of the frames' mel cepstra.
    """
    freqs = bin_frequencies()
    mel = 1127.0 * np.log1p(freqs / 700.0)
    mel_grid = np.linspace(0.0, mel[-1], N_BINS)
    # Linear interpolation weights from bins to the mel grid.
    idx = np.clip(np.searchsorted(mel, mel_grid) - 1, 0, N_BINS - 2)
    frac = (mel_grid - mel[idx]) / (mel[idx + 1] - mel[idx])
    interp = np.zeros((N_BINS, N_BINS))
    rows = np.arange(N_BINS)
    interp[rows, idx] = 1.0 - frac
    interp[rows, idx + 1] += frac
    n = np.arange(N_BINS)
    dct = np.cos(np.pi / N_BINS * (n[None, :] + 0.5) * np.arange(dims)[:, None]) / N_BINS
    return (dct @ interp).T.copy()


def lifter(log_envelope: np.ndarray, keep: int) -> np.ndarray:
    """Cepstral smoothing along frequency: keep the first ``keep`` quefrencies."""
    cep = np.fft.irfft(log_envelope, n=FFT_SIZE, axis=-1)
    cep[..., keep:FFT_SIZE - keep + 1] = 0.0
    return np.fft.rfft(cep, axis=-1).real


def long_term_envelope(log_sp: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Mean log envelope of the louder voiced frames (timbre plus channel colour)."""
    voiced = f0 > 0
    if voiced.sum() < 10:
        voiced = np.ones(len(f0), dtype=bool)
    energy = log_sp[voiced].mean(axis=1)
    loud = energy >= np.percentile(energy, 30)
    return log_sp[voiced][loud].mean(axis=0)


def log_f0_percentiles(f0: np.ndarray) -> np.ndarray:
    """ln F0 at :data:`F0_PERCENTILES` of the voiced frames (a robust F0 distribution)."""
    voiced = f0[f0 > 0]
    if len(voiced) < 20:  # practically unvoiced sample: assume a mid-range voice
        return np.log(140.0) + 0.15 * np.linspace(-2.0, 2.0, len(F0_PERCENTILES))
    return np.percentile(np.log(voiced), F0_PERCENTILES)


def warp_frequency_axis(log_sp: np.ndarray, alpha: float) -> np.ndarray:
    """Vocal-tract-length warp: output bin j takes the input at bin j / alpha."""
    if abs(alpha - 1.0) < 1e-6:
        return log_sp.copy()
    src = np.minimum(np.arange(N_BINS) / alpha, N_BINS - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, N_BINS - 1)
    frac = src - lo
    return log_sp[..., lo] * (1.0 - frac) + log_sp[..., hi] * frac


def median_formants(x: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """Median F1..F3 (Hz) over voiced frames from order-12 LPC at 10 kHz."""
    fs = 10000
    y = resample(x, SAMPLE_RATE, fs)
    y = np.append(y[0], y[1:] - 0.97 * y[:-1])
    win_len = 250
    half = win_len // 2
    window = np.hamming(win_len)
    hop = int(round(FRAME_PERIOD_MS * fs / 1000.0))
    found = []
    for i in np.flatnonzero(f0 > 0)[::2]:  # every other voiced frame is plenty
        c = i * hop
        if c - half < 0 or c + half > len(y):
            continue
        seg = y[c - half:c + half]
        if np.sqrt(np.mean(seg ** 2)) < 1e-4:
            continue
        seg = seg * window
        r = np.correlate(seg, seg, mode="full")[win_len - 1:win_len + 12]
        if r[0] <= 0:
            continue
        r[0] *= 1.0 + 1e-9
        roots = np.roots(levinson(r, 12))
        roots = roots[roots.imag > 0.01]
        freq = np.angle(roots) * fs / (2 * np.pi)
        bw = -(fs / np.pi) * np.log(np.abs(roots))
        keep = np.sort(freq[(bw < 400) & (freq > 200) & (freq < 4500)])
        if len(keep) >= 3:
            found.append(keep[:3])
    if len(found) < 5:
        return np.array([500.0, 1500.0, 2500.0])
    return np.median(np.array(found), axis=0)


def levinson(r: np.ndarray, order: int) -> np.ndarray:
    """LPC polynomial [1, a1, ..., a_order] from autocorrelation ``r`` (Levinson-Durbin)."""
    a = np.zeros(order + 1)
    a[0] = 1.0
    err = r[0]
    for i in range(1, order + 1):
        k = -(r[i] + np.dot(a[1:i], r[i - 1:0:-1])) / err
        a[1:i] = a[1:i] + k * a[i - 1:0:-1]
        a[i] = k
        err *= 1.0 - k * k
        if err <= 0:
            break
    return a


def gaussian_smooth_time(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (time), mirroring at the edges."""
    if sigma_frames <= 0 or len(x) < 2:
        return x
    radius = int(4.0 * sigma_frames + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    taps /= taps.sum()
    pad_width = [(radius, radius)] + [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, pad_width, mode="symmetric")
    out = np.zeros(x.shape, dtype=np.float64)
    for k, tap in enumerate(taps):
        out += tap * padded[k:k + len(x)]
    return out


def frame_labels_from_segments(codes, starts, ends, n_frames: int, rate: int) -> np.ndarray:
    """Label each 5 ms frame with the phone whose segment contains the frame centre."""
    labels = np.zeros(n_frames, dtype=np.int16)
    centres = np.arange(n_frames) * (FRAME_PERIOD_MS / 1000.0) * rate
    if len(codes) == 0:
        return labels
    pos = np.searchsorted(np.asarray(ends), centres, side="right")
    inside = pos < len(codes)
    labels[inside] = np.asarray(codes)[pos[inside]]
    return labels
