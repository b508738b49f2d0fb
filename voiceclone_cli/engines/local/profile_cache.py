"""Voice profiles cached on disk by the sample's content hash.

Analysing a sample takes seconds; a profile is reused by every later ``say`` with the same
sample bytes. The prepared voice model lives next to the profiles (``models/``). Entries are
written atomically; an unreadable or outdated entry is rebuilt, never fatal. The cache lives in the platform's cache directory (``$VOICECLONE_CACHE_DIR``
overrides it) and ``voiceclone cache clear`` empties it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from voiceclone_cli.dirs import ClearedCache, cache_dir, empty_folder
from voiceclone_cli.output.atomic import atomic_write_bytes

log = logging.getLogger("voiceclone.cache")

def models_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the local engine keeps its prepared voice model (see ``local.synth``)."""
    return cache_dir(env) / "models"


class ProfileCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or cache_dir()) / "profiles"

    def path_for(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def load(self, key: str, decode: Callable[[Mapping[str, Any]], Any]) -> Any | None:
        """The cached object, or None if absent; a corrupt entry is deleted and reported."""
        import numpy as np

        path = self.path_for(key)
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return decode(arrays)
        except FileNotFoundError:
            return None
        except Exception as exc:  # truncated zip, wrong arrays, old version: rebuild
            log.warning("voice profile cache entry %s is unusable (%s); rebuilding it", path.name, exc)
            path.unlink(missing_ok=True)
            return None

    def store(self, key: str, arrays: Mapping[str, Any]) -> None:
        """Best effort: a cache that cannot be written only costs time next run."""
        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path_for(key), buffer.getvalue(), mode=0o600)
        except OSError as exc:
            log.warning("cannot write the voice profile cache in %s: %s", self.directory, exc.strerror)

    def clear(self) -> ClearedCache:
        return empty_folder(self.directory)


def clear_models() -> ClearedCache:
    return empty_folder(models_dir())
