"""The smallest complete voiceclone engine: every chunk of text is spoken as a tone.

Its length follows the text (and ``speed``), its pitch follows the sample and ``pitch``. Install
it with ``pip install ./examples/engine-plugin``, then ``voiceclone say --engine tone ...``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from voiceclone_cli import Audio, PreparedSample

SECONDS_PER_CHAR = 0.06


class ToneEngine:
    name = "tone"
    version = "1"  # part of every cache key: change it when the sound changes
    max_chunk_chars = 400  # the most text one synthesize() call takes
    first_chunk_chars = None  # no shorter first chunk needed: a tone is instant
    sample_rate = 16000
    max_workers = 4  # calls that may run at once
    cpu_bound = False

    def prepare_voice(self, sample: PreparedSample) -> float:
        """The "voice" is a base frequency between 150 and 300 Hz taken from the sample."""
        return 150.0 + hashlib.sha256(sample.data).digest()[0] / 255 * 150.0

    def synthesize(self, text: str, voice: float, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        seconds = max(0.1, len(text) * SECONDS_PER_CHAR / speed)
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)  # no clicks at the edges
        tone = 0.3 * fade * np.sin(2 * np.pi * voice * 2.0**pitch * t)
        return Audio(tone.astype(np.float32), self.sample_rate)

    def warm_up(self) -> None:
        """Nothing to load."""

    def stats(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        """Nothing to release."""


def create(settings, **options) -> ToneEngine:
    """The entry point: voiceclone calls it with the resolved settings when the engine is used."""
    return ToneEngine()
