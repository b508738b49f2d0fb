"""API keys from a file: one key a line, ``#`` comments, reloaded on SIGHUP.

Keys are compared in constant time and never logged; a reload that fails keeps the old keys,
so a typo in the file cannot lock every client out (or let everyone in).
"""

from __future__ import annotations

import hmac
import logging
import threading
from pathlib import Path

from voiceclone_cli.errors import ConfigError

log = logging.getLogger("voiceclone.serve")


def read_keys(path: Path) -> frozenset[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"keys file not found: {path}", hint="give a file with one API key a line") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"cannot read keys file {path}: {reason}",
                          hint="give a readable UTF-8 file with one API key a line") from None
    keys = set()
    for line in text.splitlines():
        key = line.split("#", 1)[0].strip()
        if key:
            if any(ch.isspace() for ch in key):
                raise ConfigError(f"keys file {path} has a line with spaces inside a key",
                                  hint="put one key a line; comments start with #")
            keys.add(key)
    if not keys:
        raise ConfigError(f"keys file {path} holds no keys", hint="add one API key a line")
    return frozenset(keys)


class KeyRing:
    """The keys in force; ``None`` file means no authentication (loopback only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._keys = read_keys(path) if path is not None else frozenset()
        self._lock = threading.Lock()

    @property
    def required(self) -> bool:
        return self.path is not None

    def __len__(self) -> int:
        return len(self._keys)

    def reload(self) -> bool:
        """Read the file again; on failure keep the keys in force and log why."""
        if self.path is None:
            return False
        try:
            keys = read_keys(self.path)
        except ConfigError as exc:
            log.warning("keys not reloaded, the %d in force are kept: %s", len(self._keys), exc.message)
            return False
        with self._lock:
            self._keys = keys
        log.info("keys reloaded from %s: %d keys", self.path, len(keys))
        return True

    def check(self, authorization: str | None) -> str | None:
        """The key a ``Bearer`` header carries if it is valid, else ``None``."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        found = None
        for key in self._keys:  # every key compared, in constant time each
            if hmac.compare_digest(key.encode(), token.encode()):
                found = key
        return found
