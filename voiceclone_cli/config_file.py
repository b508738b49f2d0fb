"""The user's config file: TOML, private (0600 in a 0700 directory), written atomically.

Reading has two moods. Commands that only *use* settings never stop on a broken file: it is
reported as a warning (with advice that works on a broken file) and ignored, so a typo cannot
lock anyone out. Commands that *rewrite* it (``config set``/``unset``) refuse a file they cannot
parse, because rewriting what they could not read would silently drop every other setting.
Every rewrite keeps the previous file as ``config.toml.bak``, and edits the changed line in
place when it can, so the user's comments and layout survive.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceclone_cli.output.atomic import atomic_open, atomic_write_bytes, replaceable_target
from voiceclone_cli.dirs import CONFIG_DIR_ENV, config_dir
from voiceclone_cli.errors import ConfigError

CONFIG_NAME = "config.toml"
BACKUP_SUFFIX = ".bak"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / CONFIG_NAME


def backup_path(path: Path) -> Path:
    """Beside the path the user knows (not a symlink's target), inside the private directory."""
    return path.with_name(path.name + BACKUP_SUFFIX)


@dataclass
class LoadedConfig:
    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _fix_hint(path: Path, line: int) -> str:
    quoted = shlex.quote(str(path))
    return f"fix line {line} of {path} (or move it away: mv {quoted} {shlex.quote(str(path) + '.broken')})"


def _toml_error_line(exc: Exception, text: str) -> tuple[int, str]:
    """The line tomllib complains about, and its message without the position suffix."""
    message = str(exc)
    lineno = getattr(exc, "lineno", None)  # Python >= 3.14
    match = re.search(r"\s*\((?:at line (\d+), column \d+|at end of document)\)\s*$", message)
    if match:
        message = message[: match.start()]
        if lineno is None:
            lineno = int(match.group(1)) if match.group(1) else max(1, len(text.splitlines()))
    return lineno or 1, message


def read_config(path: Path) -> tuple[dict[str, Any], bytes | None]:
    """The file's settings and exact bytes (None when it does not exist); ConfigError if unusable."""
    import tomllib

    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # the latter: the directory is a file; writing says so
        return {}, None
    except IsADirectoryError:
        raise ConfigError(
            f"config file {path} is a directory",
            hint=f"move it away: mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.broken')}",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}",
            hint=f"check its permissions, or set {CONFIG_DIR_ENV} to another directory",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"broken config file {path}: line {line} is not UTF-8 text", hint=_fix_hint(path, line)
        ) from None
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        line, message = _toml_error_line(exc, text)
        raise ConfigError(
            f"broken config file {path}: line {line}: {message}", hint=_fix_hint(path, line)
        ) from None


def load_config(path: Path) -> LoadedConfig:
    """Read the file for use; problems become warnings, never exceptions."""
    loaded = LoadedConfig(path)
    try:
        loaded.values, raw = read_config(path)
    except ConfigError as exc:
        loaded.warnings.append(f"ignoring {exc.message}; {exc.hint}")
        return loaded
    if raw is not None:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            loaded.warnings.append(
                f"config file {path} is readable by others (mode {mode:o}); run: chmod 600 {shlex.quote(str(path))}"
            )
    return loaded


_REMOVE = object()


def set_value(path: Path, key: str, value: Any) -> None:
    """Save one setting, keeping every other one (and the file's comments) as it was."""
    _update(path, key, value)


def unset_value(path: Path, key: str) -> bool:
    """Remove one setting; False (and nothing written) when the file does not have it."""
    return _update(path, key, _REMOVE)


def _update(path: Path, key: str, value: Any) -> bool:
    values, raw = read_config(path)  # refuses a file it could not rewrite faithfully
    if value is _REMOVE:
        if key not in values:
            return False
        del values[key]
    else:
        values[key] = value
    edited = _edited_text(raw.decode("utf-8"), key, value, values) if raw is not None else None
    _write(path, edited if edited is not None else _dump(values), previous=raw)
    return True


def _dump(values: Mapping[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(dict(values))


def _edited_text(text: str, key: str, value: Any, expected: Mapping[str, Any]) -> str | None:
    """``text`` with only ``key``'s line changed, or None when that cannot be done exactly.

    Only a top-level ``key = ...`` on one line is edited (or a new line added); the result is
    parsed again and must give exactly ``expected``, so anything unusual (multi-line values,
    dotted keys) falls back to a full rewrite instead of a wrong edit.
    """
    import tomllib

    lines = text.splitlines(keepends=True)
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    name = re.escape(key)
    assignment = re.compile(rf"""\s*(?:{name}|"{name}"|'{name}')\s*=""")
    hits = [i for i in range(first_table) if assignment.match(lines[i])]
    replacement = [] if value is _REMOVE else [_dump({key: value})]
    if len(hits) == 1:
        lines[hits[0]: hits[0] + 1] = replacement
    elif hits or not replacement:
        return None
    else:
        content = [i for i in range(first_table) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
        at = content[-1] + 1 if content else (0 if first_table < len(lines) else len(lines))
        if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
            lines[at - 1] += "\n"
        lines[at:at] = replacement
    edited = "".join(lines)
    try:
        return edited if tomllib.loads(edited) == expected else None
    except tomllib.TOMLDecodeError:
        return None


def save_config(path: Path, values: Mapping[str, Any]) -> None:
    """Replace the whole file with ``values`` (the previous file kept as the backup)."""
    try:
        previous = path.read_bytes()
    except OSError:
        previous = None
    _write(path, _dump(values), previous=previous)


def _write(path: Path, text: str, previous: bytes | None) -> None:
    """Atomically, 0600 from creation; the backup is written before the new file takes over.

    A symlinked config file stays a link: its target is what gets replaced. Any failure leaves
    the current file and its backup as they were and becomes a ConfigError naming the file.
    """
    target = replaceable_target(path)
    try:
        mode = target.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not mode & stat.S_IWUSR:
        raise ConfigError(
            f"config file {path} is read-only",
            hint=f"make it writable (chmod 600 {shlex.quote(str(target))}) or edit it by hand",
        )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with atomic_open(target, mode=0o600) as handle:
            handle.write(text.encode("utf-8"))
            if previous is not None:
                backup = backup_path(path)
                atomic_write_bytes(backup, previous, mode=0o600)
                os.chmod(backup, 0o600)
        os.chmod(target, 0o600)  # an older file may have been created with a looser umask
    except OSError as exc:
        raise ConfigError(
            f"cannot write config file {path}: {exc.strerror}",
            hint=f"check the permissions of {path.parent}, or set {CONFIG_DIR_ENV} to a writable directory",
        ) from None
