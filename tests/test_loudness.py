"""The BS.1770 meter, its chapter-by-chapter form, and the book's one gain."""

from __future__ import annotations

import numpy as np
import pytest

from voiceclone_cli.audio.loudness import LoudnessMeter, Measurement, combined
from voiceclone_cli.book import gain
from voiceclone_cli.book.gain import GainPlan, acceptable, best_gain
from voiceclone_cli.audio.loudness import Loudness


def sine(rate: int, seconds: float, amplitude: float, freq: float = 997.0, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


@pytest.mark.parametrize("rate", [48000, 44100, 24000, 16000])
def test_a_full_scale_997_hz_sine_reads_minus_3_01_lufs(rate):
    # BS.1770-4: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS.
    meter = LoudnessMeter(rate)
    meter.add(sine(rate, 10, 1.0))
    assert meter.result().integrated_lufs == pytest.approx(-3.01, abs=0.05)


def test_level_moves_the_reading_one_for_one_and_silence_reads_none():
    readings = []
    for db in (-10, -20, -30):
        meter = LoudnessMeter(24000)
        meter.add(sine(24000, 5, 10 ** (db / 20)))
        readings.append(meter.result().integrated_lufs)
    assert np.diff(readings) == pytest.approx([-10, -10], abs=0.01)
    silent = LoudnessMeter(24000)
    silent.add(np.zeros(24000 * 3, dtype=np.float32))
    assert silent.result().integrated_lufs is None


def test_true_peak_sees_the_peaks_between_samples():
    # A quarter-rate sine at 45 degrees: every sample is at 0.707 of the real peak.
    x = sine(24000, 2, 0.5, freq=6000, phase=np.pi / 4)
    meter = LoudnessMeter(24000)
    meter.add(x)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-9.03, abs=0.05)
    assert meter.result().true_peak_dbtp == pytest.approx(-6.02, abs=0.3)


def test_block_sizes_do_not_change_the_measurement():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(24000 * 4) * 0.1).astype(np.float32)
    whole, pieces = LoudnessMeter(24000), LoudnessMeter(24000)
    whole.add(x)
    for start in range(0, len(x), 777):
        pieces.add(x[start:start + 777])
    a, b = whole.finish(), pieces.finish()
    assert np.allclose(a.steps, b.steps, rtol=1e-9) and a.peak == pytest.approx(b.peak, rel=1e-6)


def test_chapters_measured_apart_combine_into_the_whole_book_with_its_gaps():
    rate, gap = 24000, 2.0
    first, second = sine(rate, 4, 0.1), sine(rate, 6, 0.3, freq=440)
    book = LoudnessMeter(rate)
    book.add(np.concatenate([first, np.zeros(int(gap * rate), np.float32), second]))
    parts = []
    for chapter in (first, second):
        meter = LoudnessMeter(rate)
        meter.add(chapter)
        parts.append(meter.finish())
    together = combined(parts, gap)
    assert together.integrated_lufs == pytest.approx(book.result().integrated_lufs, abs=0.01)
    assert together.true_peak_dbtp == pytest.approx(book.result().true_peak_dbtp, abs=0.01)


def test_a_measurement_survives_its_record_and_refuses_damage():
    meter = LoudnessMeter(24000)
    meter.add(sine(24000, 2, 0.2))
    kept = meter.finish()
    back = Measurement.from_dict(kept.to_dict())
    assert back.loudness() == kept.loudness()
    for bad in ({**kept.to_dict(), "steps": [1.0, float("nan")]}, {**kept.to_dict(), "steps": [-1.0]},
                {**kept.to_dict(), "steps": [[1.0]]}):
        with pytest.raises(ValueError):
            Measurement.from_dict(bad)


# ---- the book's gain ---------------------------------------------------------------------


def test_best_gain_meets_the_target_or_stops_at_the_ceiling():
    assert best_gain(Loudness(-24.0, -10.0), -18.0) == pytest.approx(6.0)
    assert best_gain(Loudness(-24.0, -4.0), -18.0) == pytest.approx(3.0)  # held back by -1 dBTP
    assert best_gain(Loudness(None, -80.0), -18.0) == 0.0


@pytest.mark.parametrize("measured", [Loudness(-24.0, -10.0), Loudness(-24.0, -4.0), Loudness(-30.0, -2.5)])
def test_a_fresh_guess_is_acceptable_and_never_passes_the_ceiling(measured):
    guess = gain.fresh_guess(measured, -18.0)
    assert acceptable(guess, measured, -18.0)
    assert measured.true_peak_dbtp + guess <= gain.CEILING_DBTP + 1e-9
    assert round(guess / gain.STEP_DB, 6) == round(guess / gain.STEP_DB)


def test_acceptable_means_within_tolerance_and_under_the_ceiling():
    loudness_bound = Loudness(-24.0, -10.0)  # best 6.0, the ceiling allows 9.0
    assert acceptable(6.4, loudness_bound, -18.0) and acceptable(5.6, loudness_bound, -18.0)
    assert not acceptable(6.6, loudness_bound, -18.0) and not acceptable(5.4, loudness_bound, -18.0)
    peak_bound = Loudness(-24.0, -4.0)  # best 3.0: the ceiling
    assert acceptable(2.6, peak_bound, -18.0) and not acceptable(3.1, peak_bound, -18.0)
    assert not acceptable(2.4, peak_bound, -18.0)


def test_the_plan_keeps_its_guess_while_it_holds_and_moves_when_it_must():
    plan = GainPlan(-18.0)
    first = plan.gain_for(Loudness(-24.0, -10.0))
    assert first == pytest.approx(6.0)
    assert plan.gain_for(Loudness(-23.7, -10.0)) == first  # 0.3 LU louder: still within tolerance
    moved = plan.gain_for(Loudness(-23.0, -10.0))  # 1 LU louder: the old gain would overshoot
    assert moved == pytest.approx(5.0)
    peaked = plan.gain_for(Loudness(-23.0, -5.5))  # a new peak: the ceiling allows only 4.5
    assert peaked <= 4.5 and acceptable(peaked, Loudness(-23.0, -5.5), -18.0)
    assert GainPlan(None).gain_for(Loudness(-23.0, -5.5)) == 0.0
