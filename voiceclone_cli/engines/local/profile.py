"""Analysis of a voice sample into a cacheable :class:`VoiceProfile`."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import dsp
from .phones import SILENCE_CODE
from .sample_labels import allphone_segments

#: Bump whenever the analysis or the meaning of a profile field changes (cache key).
PROFILE_VERSION = 2

# Sample frames quieter than this percentile (of the speech frames) are not used as
# matching targets: they are mostly breath, reverberation tails and noise.
_QUIET_FRAME_PERCENTILE = 20.0
# Sample level before analysis; only relative levels matter downstream.
_ANALYSIS_RMS = 0.05


@dataclass
class VoiceProfile:
    """What the matcher needs to know about a voice sample.

    The first fields describe the voice globally (pitch distribution, formants, usable
    bandwidth, average timbre);
    the ``frame_*`` arrays are the sample's speech frames (5 ms, 22050 Hz WORLD
    envelopes) that the matcher picks from, with their phone labels.
    """

    log_f0_percentiles: np.ndarray  # (25,) ln F0 at dsp.F0_PERCENTILES
    formants_hz: np.ndarray  # (3,) median F1, F2, F3
    bandwidth_hz: float  # above this the sample has no usable content
    long_term_envelope: np.ndarray  # (N_BINS,) mean log envelope of loud voiced frames
    frame_log_sp: np.ndarray  # (N, N_BINS) float32 log envelopes
    frame_features: np.ndarray  # (N, D) mel cepstrum minus that of the long-term envelope
    frame_voiced: np.ndarray  # (N,) bool
    frame_phones: np.ndarray  # (N,) int16 phone codes (see .phones)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numeric arrays for ``np.savez`` (envelopes stored as float16)."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "frame_log_sp":
                value = np.asarray(value, dtype=np.float16)
            elif f.name == "frame_voiced":
                value = np.asarray(value, dtype=np.uint8)
            out[f.name] = np.asarray(value)
        out["profile_version"] = np.asarray(PROFILE_VERSION)
        return out

    @classmethod
    def from_arrays(cls, d) -> "VoiceProfile":
        version = int(np.asarray(d["profile_version"])) if "profile_version" in d else -1
        if version != PROFILE_VERSION:
            raise ValueError(f"voice profile version {version}, expected {PROFILE_VERSION}")
        return cls(
            log_f0_percentiles=np.asarray(d["log_f0_percentiles"], dtype=np.float64),
            formants_hz=np.asarray(d["formants_hz"], dtype=np.float64),
            bandwidth_hz=float(np.asarray(d["bandwidth_hz"])),
            long_term_envelope=np.asarray(d["long_term_envelope"], dtype=np.float64),
            frame_log_sp=np.asarray(d["frame_log_sp"], dtype=np.float32),
            frame_features=np.asarray(d["frame_features"], dtype=np.float32),
            frame_voiced=np.asarray(d["frame_voiced"]).astype(bool),
            frame_phones=np.asarray(d["frame_phones"], dtype=np.int16),
        )


def _to_mono(pcm: np.ndarray) -> np.ndarray:
    x = np.asarray(pcm, dtype=np.float64)
    if x.ndim == 2:
        # Accept (samples, channels) as well as (channels, samples).
        x = x.mean(axis=1) if x.shape[0] >= x.shape[1] else x.mean(axis=0)
    return x.reshape(-1)


def _effective_bandwidth(x: np.ndarray, rate: int) -> float:
    """Highest frequency with real content (a 16 kHz recording upsampled to 44.1 kHz
    still stops at 8 kHz)."""
    limit = min(rate / 2.0, dsp.SAMPLE_RATE / 2.0)
    if len(x) < 2048:
        return limit
    frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::1024]
    power = (np.abs(np.fft.rfft(frames * np.hanning(2048), axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(2048, 1.0 / rate)
    level = 10 * np.log10(power + 1e-20)
    speech_band = (freqs > 300) & (freqs < 3000)
    reference = np.median(level[speech_band])
    alive = np.flatnonzero((level > reference - 50.0) & (freqs <= limit))
    if len(alive) == 0:
        return limit
    return float(min(limit, max(4000.0, freqs[alive[-1]])))


def analyze_sample(pcm: np.ndarray, sample_rate: int) -> VoiceProfile:
    """Analyse a voice sample (float mono in [-1, 1], any rate) for :func:`matching.convert`.

    Takes a few seconds for a 30 s sample; callers should cache the result.
    """
    x_in = _to_mono(pcm)
    if len(x_in) < sample_rate // 2:
        raise ValueError("voice sample is too short (need at least 0.5 s of audio)")
    bandwidth = _effective_bandwidth(x_in, sample_rate)
    x = dsp.resample(x_in, sample_rate, dsp.SAMPLE_RATE)
    rms = np.sqrt(np.mean(x ** 2))
    if rms < 1e-6:
        raise ValueError("voice sample is silent")
    x = x * (_ANALYSIS_RMS / rms)

    world = dsp.world_analyze(x, f0_ceil=dsp.F0_CEIL, with_aperiodicity=False)
    n_frames = len(world.f0)
    segments = allphone_segments(x_in, sample_rate)
    labels = dsp.frame_labels_from_segments(
        [c for c, _, _ in segments],
        [s for _, s, _ in segments],
        [e for _, _, e in segments],
        n_frames,
        rate=1,
    )

    band = dsp.bin_frequencies() <= bandwidth
    log_sp = world.log_sp
    envelope = dsp.long_term_envelope(log_sp, world.f0)
    mcep = dsp.mel_cepstrum_matrix()
    energy = log_sp[:, band].mean(axis=1)
    speech = labels != SILENCE_CODE
    if speech.sum() < 50:  # the phone decoder found (almost) nothing: use energy alone
        speech = energy > np.percentile(energy, 30)
    kept = speech & (energy >= np.percentile(energy[speech], _QUIET_FRAME_PERCENTILE))

    features = (log_sp[kept] - envelope) @ mcep[:, 1:]
    return VoiceProfile(
        log_f0_percentiles=dsp.log_f0_percentiles(world.f0),
        formants_hz=dsp.median_formants(x, world.f0),
        bandwidth_hz=bandwidth,
        long_term_envelope=envelope,
        frame_log_sp=log_sp[kept].astype(np.float32),
        frame_features=features.astype(np.float32),
        frame_voiced=world.f0[kept] > 0,
        frame_phones=labels[kept],
    )
