"""Convenience wrapper: text + voice profile -> cloned speech."""

from __future__ import annotations


from voiceclone_cli.audio.wav import Audio
from voiceclone_cli.prepare.sentences import sentences

from .matching import convert
from .profile import VoiceProfile
from .synth import PiperSynth
from .timing import sentence_bounds


class LocalCloner:
    """Loads Piper once; :meth:`speak` synthesises a chunk and converts it.

    Thread safety: one instance may be shared between threads. Only Piper's phonemisation
    is serialised (see :class:`PiperSynth`); its network and the conversion (numpy and
    WORLD, which releases the GIL) run in parallel.
    """

    def __init__(self, synth: PiperSynth | None = None) -> None:
        self.synth = synth if synth is not None else PiperSynth.load()

    @property
    def sample_rate(self) -> int:
        return self.synth.sample_rate

    def speak(self, text: str, profile: VoiceProfile, speed: float = 1.0,
              pitch_semitones: float = 0.0) -> Audio:
        """``text`` in the profile's voice."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        from .cores import CORES

        with CORES.chunk():
            result = self.synth.synthesize(text, length_scale=1.0 / speed)
            samples = convert(result, profile, pitch_semitones=pitch_semitones)
        # The conversion keeps Piper's timing sample for sample, so its alignment holds.
        bounds = sentence_bounds(sentences(text), result.spoken, self.synth.phonemize, len(samples))
        return Audio(samples, result.audio.rate, tuple(b / result.audio.rate for b in bounds))
