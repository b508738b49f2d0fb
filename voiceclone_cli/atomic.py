"""Atomic file replacement: a file is either the old one or the complete new one.

Content goes to a hidden temporary file in the target's own directory (so the final rename
never crosses file systems), is flushed to disk, and is renamed over the target only when
complete. On any failure the temporary file is removed and the old target is untouched.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".part"
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.\d+-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z", re.IGNORECASE)


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


def temp_target(name: str) -> str | None:
    """The target name that ``name`` is a temporary file of (see ``temp_path_for``), or None.

    Lets a later run recognise, and clean up, what an interrupted write left behind.
    """
    match = _TEMP_NAME.match(name)
    return match.group("target") if match else None


@contextmanager
def atomic_open(target: Path, mode: int = 0o666) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``target``, on error it vanishes.

    ``mode`` is applied at creation (before any byte is written), so a secret is never
    readable by others, not even for an instant.
    """
    target = Path(target)
    tmp = temp_path_for(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o666) -> None:
    with atomic_open(target, mode) as handle:
        handle.write(data)
