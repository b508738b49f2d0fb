"""The pocket engine's --speed and --pitch post-process, on tones and real speech.

The effects are numpy and soxr only, so these tests run without the ``pocket`` extra (no torch,
no pocket-tts): they are the contract a listener relies on — lengths, pitch, no clicks.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import voice
from voiceclone_cli.audio.wav import Audio
from voiceclone_cli.engines.pocket.effects import change_speed_and_pitch

RATE = 24000  # pocket-tts's output rate
SEMITONE = 2 ** (1 / 12)


def tone(hz: float, seconds: float = 3.0, rate: int = RATE) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)


def peak_hz(audio: Audio) -> float:
    """The strongest frequency of the middle second, to 0.1 Hz (zero-padded FFT)."""
    middle = audio.samples[len(audio.samples) // 2 - audio.rate // 2:][: audio.rate]
    size = 10 * len(middle)
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)), size))
    return float(np.argmax(spectrum) * audio.rate / size)


def speech() -> Audio:
    import soundfile as sf

    samples, rate = sf.read(voice("p225/p225_023.wav"), dtype="float32")
    return Audio(samples, rate)


@pytest.mark.parametrize("speed", [0.5, 0.8, 1.25, 2.0])
def test_speed_scales_the_length_and_keeps_the_pitch(speed):
    source = tone(220)
    out = change_speed_and_pitch(source, speed=speed)
    n = len(source.samples)
    assert abs(len(out.samples) - n / speed) <= n / speed * 0.02
    assert peak_hz(out) == pytest.approx(220, rel=0.01)
    assert out.rate == source.rate and out.samples.dtype == np.float32


@pytest.mark.parametrize("speed", [0.5, 1.25, 2.0])
def test_a_stretched_tone_keeps_a_steady_level(speed):
    # Windows overlapped out of phase cancel: a level that dips every few milliseconds is what a
    # stretch without the similarity search sounds like (a flutter), and a fade at either end
    # is audio lost. 10 ms blocks hold two whole periods of 200 Hz, so a steady tone measures flat.
    out = change_speed_and_pitch(tone(200), speed=speed).samples
    block = RATE // 100
    levels = np.sqrt(np.mean(out[: len(out) // block * block].reshape(-1, block) ** 2, axis=1))
    assert levels == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


def test_pitch_moves_a_tone_by_the_documented_interval_and_keeps_the_length():
    source = tone(220)
    n = len(source.samples)
    up = change_speed_and_pitch(source, pitch=1 / 12)
    assert peak_hz(up) == pytest.approx(220 * SEMITONE, rel=0.01)
    assert abs(len(up.samples) - n) <= n * 0.02
    octave_down = change_speed_and_pitch(source, pitch=-1.0)
    assert peak_hz(octave_down) == pytest.approx(110, rel=0.01)
    assert abs(len(octave_down.samples) - n) <= n * 0.02


def test_speed_and_pitch_together():
    source = tone(220)
    out = change_speed_and_pitch(source, speed=1.5, pitch=0.25)
    assert peak_hz(out) == pytest.approx(220 * SEMITONE ** 3, rel=0.01)
    assert abs(len(out.samples) - len(source.samples) / 1.5) <= len(source.samples) / 1.5 * 0.02


def test_the_defaults_are_the_identity():
    source = tone(220)
    assert change_speed_and_pitch(source) is source
    assert change_speed_and_pitch(source, speed=1.0, pitch=0.0) is source


@pytest.mark.parametrize("speed, pitch", [(1.25, 0.0), (0.5, 0.0), (2.0, 0.0), (1.0, 0.5), (0.8, -0.3)])
def test_speech_is_stretched_without_clicks_or_loss(speed, pitch):
    source = speech()
    out = change_speed_and_pitch(source, speed=speed, pitch=pitch)
    steps_in = np.abs(np.diff(source.samples)).max()
    steps_out = np.abs(np.diff(out.samples)).max()
    # A pitch shift up makes every slope steeper by its ratio; a click would be far above that.
    assert steps_out <= steps_in * 1.1 * 2 ** max(pitch, 0.0)
    level_in = np.sqrt(np.mean(source.samples ** 2))
    level_out = np.sqrt(np.mean(out.samples ** 2))
    assert level_out == pytest.approx(level_in, rel=0.1)  # not silent, not louder
    assert abs(len(out.samples) - len(source.samples) / speed) <= len(source.samples) / speed * 0.02


def test_empty_audio_stays_empty():
    empty = Audio(np.zeros(0, dtype=np.float32), RATE)
    for speed, pitch in [(0.5, 0.0), (2.0, 0.0), (1.0, 1.0)]:
        assert len(change_speed_and_pitch(empty, speed=speed, pitch=pitch).samples) == 0


@pytest.mark.parametrize("length", [1, 7, 100, 719])  # 719 < one 30 ms window at 24 kHz
@pytest.mark.parametrize("speed, pitch", [(0.5, 0.0), (2.0, 0.0), (0.5, -1.0), (2.0, 1.0), (1.0, 0.5)])
def test_audio_shorter_than_a_window_gets_the_length_asked(length, speed, pitch):
    short = Audio((0.1 * np.random.default_rng(length).standard_normal(length)).astype(np.float32), RATE)
    out = change_speed_and_pitch(short, speed=speed, pitch=pitch)
    assert len(out.samples) == max(1, round(length / speed))
    assert np.isfinite(out.samples).all() and np.abs(out.samples).max() <= 1.0


def test_a_non_positive_speed_is_a_bug_in_the_caller():
    with pytest.raises(ValueError):
        change_speed_and_pitch(tone(220, 0.1), speed=0.0)


def test_the_effects_need_neither_torch_nor_a_gpl_library():
    # Run where torch, pocket-tts and the GPL stretchers cannot be imported, as on an install
    # without the pocket extra: the effects still work, and pull none of them in.
    blocked = ["torch", "pocket_tts", "pedalboard", "pyrubberband", "rubberband"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import numpy as np\n"
        "from voiceclone_cli.audio.wav import Audio\n"
        "from voiceclone_cli.engines.pocket.effects import change_speed_and_pitch\n"
        "audio = Audio(np.sin(np.arange(24000) / 10).astype(np.float32), 24000)\n"
        "out = change_speed_and_pitch(audio, speed=1.3, pitch=0.2)\n"
        "print(len(out.samples), sorted(m for m, mod in sys.modules.items() if mod is not None and m.split('.')[0] in {'torch', 'pocket_tts'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(round(24000 / 1.3)), "[]"]
