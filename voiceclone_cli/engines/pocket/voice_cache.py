"""pocket-tts voice states cached on disk by the prepared sample's hash and the model.

Encoding a sample runs Mimi's encoder and the language model over it; the state it leaves (the
model's key/value cache after hearing the voice) is what every chunk starts from. It is kept as
pocket-tts's own ``export_model_state`` safetensors under ``cache_dir()/pocket/voices``, so a
second call with the same sample bytes and model skips the encoding. Entries are written
atomically; an unreadable entry is deleted and rebuilt, never fatal.
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
            return model.get_state_for_audio_prompt(path)
        except Exception as exc:  # truncated or foreign file: rebuild it
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
