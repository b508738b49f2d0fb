"""The user's config file: TOML, private (0600 in a 0700 directory), written atomically.

A broken file never stops the tool: it is reported as a warning naming the file and ignored,
so a typo in the config cannot lock a user out of ``voiceclone config set``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceclone_cli.atomic import atomic_write_bytes
from voiceclone_cli.errors import ConfigError

CONFIG_DIR_ENV = "VOICECLONE_CONFIG_DIR"
CONFIG_NAME = "config.toml"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    override = env.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("voiceclone", appauthor=False))


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / CONFIG_NAME


@dataclass
class LoadedConfig:
    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def load_config(path: Path) -> LoadedConfig:
    """Read the file; problems become warnings, never exceptions."""
    import tomllib

    loaded = LoadedConfig(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return loaded
    except OSError as exc:
        loaded.warnings.append(f"ignoring config file {path}: {exc.strerror}")
        return loaded
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        loaded.warnings.append(
            f"ignoring broken config file {path} ({exc}); fix it or run 'voiceclone config unset KEY'"
        )
        return loaded
    loaded.values = data
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        loaded.warnings.append(
            f"config file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    return loaded


def save_config(path: Path, values: Mapping[str, Any]) -> None:
    """Write atomically with mode 0600 from creation, in a 0700 directory."""
    import tomli_w

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(path, tomli_w.dumps(dict(values)).encode("utf-8"), mode=0o600)
        os.chmod(path, 0o600)  # an older file may have been created with a looser umask
    except OSError as exc:
        raise ConfigError(
            f"cannot write config file {path}: {exc.strerror}",
            hint=f"check permissions, or set {CONFIG_DIR_ENV} to a writable directory",
        ) from None
