"""pocket-tts voice states cached on disk by the prepared sample's hash and the model.

Encoding a sample runs Mimi's encoder and the language model over it; the state it leaves (the
model's key/value cache after hearing the voice) is what every chunk starts from. It is kept as
pocket-tts's own ``export_model_state`` safetensors under ``cache_dir()/pocket/voices``, so a
second call with the same sample bytes and model skips the encoding. Entries are written
atomically; an unreadable entry is deleted and rebuilt, never fatal.

The same file, as bytes, is what a saved voice keeps (``state_to_bytes``/``state_from_bytes``,
for ``PocketEngine.export_voice_state``/``import_voice_state``). Whatever is read back is checked
against the loaded model's own state layout first, so a state made by another model is refused
here rather than failing in the middle of generation.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from voiceclone_cli.dirs import cache_dir
from voiceclone_cli.output.atomic import commit_temp, create_temp, discard_temp

log = logging.getLogger("voiceclone.pocket")

STATE_FORMAT = 1  # bump when what is stored changes


def voices_dir() -> Path:
    return cache_dir() / "pocket" / "voices"


class VoiceStateCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or voices_dir()

    @staticmethod
    def key(sample_sha256: str, model_identity: str) -> str:
        return f"{sample_sha256[:40]}-{model_identity}-v{STATE_FORMAT}"

    def path_for(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def load(self, key: str, model: Any) -> Any | None:
        """The state for ``key`` (read by pocket-tts itself), or None if absent or unusable."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            return read_state(model, path)
        except ValueError as exc:  # truncated or foreign file: rebuild it
            log.warning("pocket voice cache entry %s is unusable (%s); rebuilding it", path.name, exc)
            path.unlink(missing_ok=True)
            return None

    def store(self, key: str, state: Any) -> None:
        """Best effort: a cache that cannot be written only costs time next run."""
        from pocket_tts import export_model_state

        target = self.path_for(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = create_temp(target, 0o600)
        except OSError as exc:
            log.warning("cannot write the pocket voice cache in %s: %s", self.directory, exc.strerror)
            return
        os.close(fd)
        try:
            export_model_state(state, tmp)
            commit_temp(tmp, target)
        except Exception as exc:
            discard_temp(tmp)
            log.warning("cannot write the pocket voice cache entry %s: %s", target.name, exc)


def read_state(model: Any, path: Path) -> Any:
    """A state file read by pocket-tts itself, then checked; ValueError saying why it is unusable."""
    try:
        state = model.get_state_for_audio_prompt(path)
    except Exception as exc:  # safetensors' own errors, torch's, a key without its module...
        raise ValueError(f"not a pocket-tts voice state ({type(exc).__name__}: {str(exc)[:120]})") from None
    check_state(model, state)
    return state


def check_state(model: Any, state: Any) -> None:
    """ValueError unless ``state`` has the layout ``model``'s own states have: the same modules,
    tensors and dtypes, with sizes that differ only along the sequence (found by making two
    empty states of different lengths and seeing which sizes move)."""
    from pocket_tts.modules.stateful_module import init_states

    short, longer = (init_states(model.flow_lm, batch_size=1, sequence_length=n) for n in (1, 2))
    if not isinstance(state, dict) or set(state) != set(short):
        raise ValueError("made by another model (its modules differ)")
    for module, tensors in short.items():
        if not isinstance(state[module], dict) or set(state[module]) != set(tensors):
            raise ValueError(f"made by another model ({module} holds other tensors)")
        for name, expected in tensors.items():
            actual = state[module][name]
            grows = [a != b for a, b in zip(expected.shape, longer[module][name].shape)]
            if (getattr(actual, "dtype", None) != expected.dtype or actual.ndim != expected.ndim
                    or any(a != e for a, e, g in zip(actual.shape, expected.shape, grows) if not g)):
                raise ValueError(f"made by another model ({module}.{name} is {tuple(actual.shape)}, "
                                 f"{actual.dtype})")


def state_to_bytes(state: Any) -> bytes:
    """The state as pocket-tts's ``export_model_state`` writes it (a ``.safetensors`` file that
    ``pocket-tts generate --voice FILE`` also reads)."""
    import tempfile

    from pocket_tts import export_model_state

    with tempfile.TemporaryDirectory(prefix="voiceclone-pocket-") as folder:
        path = Path(folder) / "voice.safetensors"
        export_model_state(state, path)
        return path.read_bytes()


def state_from_bytes(model: Any, data: bytes) -> Any:
    """The state in ``data`` (from ``state_to_bytes``), checked; ValueError if unusable."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="voiceclone-pocket-") as folder:
        path = Path(folder) / "voice.safetensors"
        path.write_bytes(data)
        return read_state(model, path)
