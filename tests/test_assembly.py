import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceclone_cli.audio.assembly import Joiner, JoinSettings, active_level_db, equal_power_crossfade, trim_bounds
from voiceclone_cli.audio.wav import Audio


def tone(seconds, rate=24000, freq=220.0, amp=0.5, lead=0.3, tail=0.3):
    t = np.arange(int(seconds * rate)) / rate
    env = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)
    body = (amp * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.concatenate([np.zeros(int(lead * rate), np.float32), body, np.zeros(int(tail * rate), np.float32)])


def join_all(chunks, rate=None, settings=JoinSettings()):
    joiner = Joiner(rate, settings)
    parts = [joiner.add(c) for c in chunks] + [joiner.finish()]
    return np.concatenate(parts), joiner


def test_edge_silence_trimmed_to_pad():
    rate = 24000
    x = tone(1.0, rate, lead=1.0, tail=2.0)
    pad = JoinSettings().pad_seconds
    start, end = trim_bounds(x, rate, pad)
    assert abs((end - start) / rate - (1.0 + 2 * pad)) < 0.03
    assert abs(start / rate - (1.0 - pad)) < 0.015  # where the kept part starts: subtitles need it


def test_joins_have_no_sample_jumps_even_when_chunks_start_loud():
    rate = 24000
    # chunks that begin and end mid-waveform (no silence): the worst case for clicks
    t = np.arange(int(0.5 * rate)) / rate
    a = (0.6 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    b = (-0.6 * np.cos(2 * np.pi * 170 * t)).astype(np.float32)
    out, _ = join_all([Audio(a, rate), Audio(b, rate), Audio(a, rate)])
    max_natural_step = 0.6 * 2 * np.pi * 300 / rate
    assert np.max(np.abs(np.diff(out))) <= max_natural_step * 1.5


def test_output_is_the_sum_of_chunks_minus_crossfades():
    rate = 16000
    chunks = [Audio(tone(0.5, rate, lead=0, tail=0), rate) for _ in range(3)]
    out, joiner = join_all(chunks)
    xf = int(JoinSettings().crossfade_seconds * rate)
    assert len(out) == 3 * len(chunks[0].samples) - 2 * xf == joiner.frames_out


def test_loudness_of_later_chunks_matches_the_first():
    rate = 24000
    loud, quiet = tone(1.0, rate, amp=0.5), tone(1.0, rate, amp=0.15)  # 10.5 dB apart
    joiner = Joiner()
    first = joiner.add(Audio(loud, rate))
    second = joiner.add(Audio(quiet, rate))
    assert abs(active_level_db(first, rate) - active_level_db(second, rate)) < 1.0


def test_gain_is_limited_for_near_silent_chunks():
    rate = 24000
    joiner = Joiner()
    joiner.add(Audio(tone(1.0, rate, amp=0.5), rate))
    whisper = joiner.add(Audio(tone(1.0, rate, amp=0.005), rate))
    assert np.max(np.abs(whisper)) < 0.5 * 10 ** (-20 / 20) * 4.1  # at most +12 dB


def test_chunks_at_other_rates_are_resampled_to_the_first_rate():
    out, joiner = join_all([Audio(tone(1.0, 24000), 24000), Audio(tone(1.0, 16000), 16000)])
    assert joiner.rate == 24000
    expected = 2 * (1.0 + 2 * JoinSettings().pad_seconds) - JoinSettings().crossfade_seconds
    assert abs(len(out) / 24000 - expected) < 0.05


def test_fixed_output_rate():
    out, joiner = join_all([Audio(tone(1.0, 24000), 24000)], rate=48000)
    assert joiner.rate == 48000 and abs(len(out) / 48000 - 1.24) < 0.03


def test_equal_power_crossfade_keeps_power_for_uncorrelated_signals():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(48000), rng.standard_normal(48000)
    mixed = equal_power_crossfade(a, b)
    for part in np.array_split(mixed, 8):
        assert abs(np.mean(part**2) - 1.0) < 0.1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 1.5), st.floats(0.01, 0.9), st.sampled_from([16000, 22050, 24000])), min_size=1, max_size=5))
def test_joined_stream_is_bounded_and_click_free(specs):
    chunks = [Audio(tone(sec, rate, amp=amp, lead=0.05, tail=0.05), rate) for sec, amp, rate in specs]
    out, joiner = join_all(chunks)
    assert len(out) == joiner.frames_out > 0
    assert np.max(np.abs(out)) <= JoinSettings().peak_ceiling + 1e-6
    assert np.max(np.abs(np.diff(out))) < 0.2


def test_join_positions_are_reported_at_crossfade_centres():
    rate = 16000
    chunks = [Audio(tone(0.5, rate, lead=0, tail=0), rate) for _ in range(3)]
    _, joiner = join_all(chunks)
    n = len(chunks[0].samples)
    xf = int(JoinSettings().crossfade_seconds * rate)
    assert joiner.joins == [n - xf + xf // 2, 2 * n - 2 * xf + xf // 2]
