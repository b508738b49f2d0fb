"""Offline "local engine": Piper joe speech converted to a cloned voice on the CPU.

Deliberately imports nothing heavy; use the submodules:

- :mod:`.profile` -- ``analyze_sample(pcm, rate) -> VoiceProfile`` (cacheable),
- :mod:`.synth` -- ``PiperSynth.load().synthesize(text) -> SynthResult``,
- :mod:`.matching` -- ``convert(synth_result, profile, pitch_semitones) -> pcm``,
- :mod:`.engine` -- ``LocalCloner`` convenience wrapper.
"""
