"""The pocket engine: Kyutai's pocket-tts, a ~100M-parameter neural zero-shot cloner, on the CPU.

The model is loaded once per process (in the background from ``warm_up``) and shared; it is
not thread-safe, so one chunk is made at a time (``max_workers = 1``) while the pipeline writes
or plays the previous one. pocket-tts runs its own generation and Mimi-decoding threads, each
on ``threads`` torch threads (1 by default, pocket-tts's own choice: two busy cores in all).

Every chunk is seeded from its text, the voice and the engine's seed, so the same input always
gives the same audio, as the response cache assumes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voiceclone_cli.audio.wav import Audio
from voiceclone_cli.engines.pocket.effects import EFFECTS_VERSION, change_speed_and_pitch
from voiceclone_cli.engines.pocket.voice_cache import STATE_FORMAT, VoiceStateCache
from voiceclone_cli.engines.pocket.weights import FETCH_COMMAND, ModelFiles
from voiceclone_cli.limits import SAMPLE_WINDOW
from voiceclone_cli.errors import EngineUnavailableError, SampleError, TextError

if TYPE_CHECKING:
    from voiceclone_cli.prepare.sample import PreparedSample

log = logging.getLogger("voiceclone.pocket")

# pocket-tts's own comfortable chunk, in tokens (pocket_tts.default_parameters.MAX_TOKEN_PER_CHUNK):
# past it, it cuts the text itself and restarts from the voice prompt.
POCKET_TOKENS_PER_CHUNK = 50
CHARS_PER_TOKEN = 3.5  # English text in its 4000-piece vocabulary
POCKET_CHUNK_CHARS = int(POCKET_TOKENS_PER_CHUNK * CHARS_PER_TOKEN)
POCKET_FIRST_CHUNK_CHARS = 60  # the opening clause is heard after well under a second of work
POCKET_SAMPLE_RATE = 24000  # Mimi's rate, in every shipped config

_models: dict[str, Any] = {}
_models_lock = threading.Lock()
_generate_lock = threading.Lock()  # one generation (or voice encoding) at a time per process


class _ToDebug(logging.Handler):
    """pocket-tts's own log lines (timings, "no EOS" warnings) are for its developers: shown
    with --debug, never as stray lines on a user's terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pocket-tts: %s", record.getMessage())


def _quiet_library_logs() -> None:
    library = logging.getLogger("pocket_tts")
    if not any(isinstance(h, _ToDebug) for h in library.handlers):
        library.addHandler(_ToDebug())
    library.propagate = False


def shared_model(files: ModelFiles, threads: int) -> Any:
    """One loaded model per model and process, shared by every engine and thread."""
    with _models_lock:
        model = _models.get(files.identity)
        if model is None:
            model = _models[files.identity] = _load(files, threads)
        return model


def _load(files: ModelFiles, threads: int) -> Any:
    import tempfile
    from pathlib import Path

    import yaml

    _quiet_library_logs()
    import torch
    from pocket_tts import TTSModel  # sets torch to 1 thread on import: bounded after it

    torch.set_num_threads(threads)
    log.debug("loading pocket-tts from %s on %d torch thread(s)", files.origin, threads)
    with tempfile.TemporaryDirectory(prefix="voiceclone-pocket-") as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(yaml.safe_dump(files.resolved_config(), sort_keys=False), encoding="utf-8")
        try:
            model = TTSModel.load_model(config=config)
        except Exception as exc:  # a damaged or mismatched weights file
            raise EngineUnavailableError(
                f"cannot load the pocket model ({files.weights}): {type(exc).__name__}: {str(exc)[:160]}",
                hint=f"fetch it again: '{FETCH_COMMAND}'",
            ) from None
    return model


@dataclass
class PocketVoice:
    sample: PreparedSample
    state: Any  # pocket-tts's model state after hearing the sample
    from_cache: bool

    @property
    def notes(self) -> list[str]:
        return self.sample.notes


class PocketEngine:
    name = "pocket"
    max_chunk_chars = POCKET_CHUNK_CHARS
    first_chunk_chars = POCKET_FIRST_CHUNK_CHARS
    sample_rate = POCKET_SAMPLE_RATE
    max_workers = 1  # the model is not thread-safe: the pipeline overlaps writing instead
    cpu_bound = True
    endpoint = ""  # nothing leaves the machine once the weights are here
    voice_state_suffix = ".safetensors"  # a saved voice keeps pocket-tts's own state file

    def __init__(self, files: ModelFiles | None, *, use_cache: bool = True, threads: int = 1,
                 seed: int = 0, cache: VoiceStateCache | None = None) -> None:
        """``files`` None: the weights are absent (a dry run plans without them)."""
        self.files = files
        self.use_cache = use_cache
        self.threads = threads
        self.seed = seed
        self.cache = cache or VoiceStateCache()
        self._warm_up: threading.Thread | None = None

    @functools.cached_property
    def version(self) -> str:
        """Changes whenever the audio for the same input may: pocket-tts, the weights, the
        speed/pitch post-process, the seed, or this package."""
        from importlib.metadata import PackageNotFoundError, version

        from voiceclone_cli import __version__

        try:
            library = version("pocket-tts")
        except PackageNotFoundError:
            library = "unknown"
        model = self.files.identity if self.files is not None else "absent"
        return f"voiceclone/{__version__} pocket-tts/{library} model/{model} {EFFECTS_VERSION} seed/{self.seed}"

    def warm_up(self) -> None:
        """Load the model in the background while the sample is read and checked."""
        if self.files is None or self._warm_up is not None:
            return
        self._warm_up = threading.Thread(target=self._load_quietly, name="voiceclone-pocket-load", daemon=True)
        self._warm_up.start()

    def _load_quietly(self) -> None:
        try:
            shared_model(self.files, self.threads)
        except Exception:  # raised again, on the caller's thread, by the next model()
            pass

    def model(self) -> Any:
        if self.files is None:
            raise EngineUnavailableError("the pocket engine's weights are not on this machine",
                                         hint=f"run '{FETCH_COMMAND}'")
        if self._warm_up is not None:
            self._warm_up.join()
        return shared_model(self.files, self.threads)

    def prepare_voice(self, sample: PreparedSample) -> PocketVoice:
        model = self.model()
        key = VoiceStateCache.key(sample.sha256, self.files.identity)
        if self.use_cache:
            state = self.cache.load(key, model)
            if state is not None:
                log.debug("pocket voice state from cache %s", self.cache.path_for(key))
                return PocketVoice(sample, state, from_cache=True)
        log.info("encoding the voice sample (once; cached for next time)")
        state = self._encode(model, sample)
        if self.use_cache:
            self.cache.store(key, state)
        return PocketVoice(sample, state, from_cache=False)

    @property
    def voice_state_identity(self) -> str | None:
        """What a voice state depends on (the model, the state format), so a saved voice's kept
        state is used only with the model that made it; None without weights."""
        return None if self.files is None else f"{self.files.identity}-v{STATE_FORMAT}"

    def export_voice_state(self, voice: PocketVoice) -> bytes:
        from voiceclone_cli.engines.pocket.voice_cache import state_to_bytes

        return state_to_bytes(voice.state)

    def import_voice_state(self, sample: PreparedSample, data: bytes) -> PocketVoice:
        """The voice from a kept state, with no encoding; ValueError if it is unusable."""
        from voiceclone_cli.engines.pocket.voice_cache import state_from_bytes

        state = state_from_bytes(self.model(), data)
        log.debug("pocket voice state from the saved voice's folder")
        return PocketVoice(sample, state, from_cache=True)

    @staticmethod
    def _encode(model: Any, sample: PreparedSample) -> Any:
        import torch

        from voiceclone_cli.audio.resample import resample

        audio = resample(Audio(sample.samples, sample.rate), model.sample_rate)
        with _generate_lock:
            try:
                return model.get_state_for_audio_prompt(torch.from_numpy(audio.samples.copy())[None, :])
            except (ValueError, RuntimeError) as exc:
                raise SampleError(f"cannot learn a voice from {sample.source}: {exc}",
                                  hint=f"use {SAMPLE_WINDOW} of clear speech") from None

    def chunk_seed(self, text: str, voice: PocketVoice) -> int:
        digest = hashlib.sha256(f"{self.seed}\n{voice.sample.sha256}\n{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    def synthesize(self, text: str, voice: PocketVoice, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        import numpy as np
        import torch

        model = self.model()
        with _generate_lock:
            torch.manual_seed(self.chunk_seed(text, voice))
            try:
                wav = model.generate_audio(voice.state, text, max_tokens=POCKET_TOKENS_PER_CHUNK, copy_state=True)
            except ValueError as exc:
                raise TextError(f"pocket-tts cannot speak {text[:40]!r}: {exc}",
                                hint="give words to speak") from None
            finally:
                _join_generation_threads()
        audio = Audio(np.ascontiguousarray(wav.numpy(), dtype=np.float32), model.sample_rate)
        return change_speed_and_pitch(audio, speed=speed, pitch=pitch)

    def stats(self) -> dict[str, int]:
        return {"requests": 0, "retries": 0}

    def close(self) -> None:
        """Let a background model load finish before the interpreter shuts down under it."""
        if self._warm_up is not None:
            self._warm_up.join()
        _join_generation_threads()


def _join_generation_threads(timeout: float = 10.0) -> None:
    """Wait for pocket-tts's generation thread to end. pocket-tts starts it as a daemon and
    does not join it: it is still leaving torch's no-grad context when the audio is returned,
    and a process that exits in that moment is aborted by the C++ runtime ("terminate called
    without an active exception", seen once in CI after a successful ``say``)."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.endswith("(run_generation)"):
            thread.join(timeout)
