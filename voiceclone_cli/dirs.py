"""The user's directories, in one place: config, cache and data, each movable by a variable.

Tests point all three at temporary folders (``VOICECLONE_CONFIG_DIR``, ``VOICECLONE_CACHE_DIR``,
``VOICECLONE_DATA_DIR``), so no test ever reads or writes a real home. platformdirs is only
imported when no variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CONFIG_DIR_ENV = "VOICECLONE_CONFIG_DIR"
CACHE_DIR_ENV = "VOICECLONE_CACHE_DIR"
DATA_DIR_ENV = "VOICECLONE_DATA_DIR"
APP = "voiceclone"


@dataclass
class ClearedCache:
    """What emptying a cache removed, for ``voiceclone cache clear`` to report."""

    files: int
    bytes: int


def _dir(variable: str, kind: str, env: Mapping[str, str] | None) -> Path:
    env = os.environ if env is None else env
    if env.get(variable):
        return Path(env[variable]).expanduser()
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Settings (``config.toml``)."""
    return _dir(CONFIG_DIR_ENV, "config", env)


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """What can be rebuilt: engine responses, voice profiles, prepared models."""
    return _dir(CACHE_DIR_ENV, "cache", env)


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """What the user made and cannot rebuild: the voice library."""
    return _dir(DATA_DIR_ENV, "data", env)


def empty_folder(directory: Path) -> ClearedCache:
    """Delete every file under ``directory`` (it and its sub-folders stay); what was removed."""
    files = size = 0
    for here, _subfolders, names in os.walk(directory):
        for name in names:
            path = Path(here) / name
            try:
                size += path.stat().st_size
                path.unlink()
                files += 1
            except OSError:
                pass
    return ClearedCache(files, size)
