"""Atomic file replacement: a file is either the old one or the complete new one.

Content goes to a hidden temporary file in the target's own directory (so the final rename
never crosses file systems), is flushed to disk, and is renamed over the target only when
complete. On any failure the temporary file is removed and the old target is untouched.

Temp files carry the PID of the process writing them (``.NAME.PID-XXXXXXXX.part``). That is
what lets a later run clean up after a killed one without ever touching the live temp file of
a run that is still going: a temp file is stale only when its process is gone. Every temp file
this process has open is also registered here, so an exit on a signal can remove them all,
including those of worker threads that are abandoned mid-line.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".part"
_TEMP_NAME = re.compile(
    r"\.(?P<target>.+)\.(?P<pid>\d+)-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z", re.IGNORECASE
)

_live: set[Path] = set()
_live_lock = threading.Lock()


def temp_path_for(target: Path, *, pid: int | None = None) -> Path:
    """The temp file name for ``target`` (``pid`` other than ours only in tests)."""
    owner = os.getpid() if pid is None else pid
    return target.with_name(f".{target.name}.{owner}-{os.urandom(4).hex()}{TEMP_SUFFIX}")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; when in doubt (another user's process), say yes: keep its file."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def remove_stale_temps(
    folder: Path, *, recursive: bool = False, targets: Callable[[str], bool] = lambda name: True
) -> int:
    """Delete temp files in ``folder`` whose process is gone and whose target ``targets``
    accepts; return how many. Files of live processes, and files this tool did not name,
    are never touched. Hidden sub-folders are not entered."""
    removed = 0
    walk = os.walk(folder) if recursive else [(str(folder), [], _names(folder))]
    for here, subfolders, files in walk:
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            match = _TEMP_NAME.match(name)
            if match is None or not targets(match.group("target")):
                continue
            if process_alive(int(match.group("pid"))):
                continue
            try:
                os.unlink(os.path.join(here, name))
                removed += 1
            except FileNotFoundError:  # another run cleaned it first
                pass
            except OSError:
                pass
    return removed


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def register_temp(path: Path) -> None:
    with _live_lock:
        _live.add(Path(path))


def release_temp(path: Path) -> None:
    with _live_lock:
        _live.discard(Path(path))


def remove_live_temps() -> int:
    """Remove every temp file this process still has (an exit on a signal leaves none)."""
    with _live_lock:
        paths = list(_live)
        _live.clear()
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def create_temp(target: Path, mode: int = 0o666) -> tuple[int, Path]:
    """Create (exclusively) and register a temp file for ``target``; return (fd, path).

    The name is registered before the file exists, so an exit on a signal that lands right
    after the file is created (before this returns) still removes it. The name is random and
    created exclusively: whatever is found under it when something fails here is ours.
    """
    tmp = temp_path_for(target)
    register_temp(tmp)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        release_temp(tmp)
        raise
    except BaseException:  # e.g. SIGTERM handled just after the file appeared
        discard_temp(tmp)
        raise
    return fd, tmp


def discard_temp(tmp: Path) -> None:
    release_temp(tmp)
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass


def commit_temp(tmp: Path, target: Path) -> None:
    """Rename a complete temp file over ``target``; the temp file is no longer ours to clean."""
    os.replace(tmp, target)
    release_temp(tmp)


@contextmanager
def atomic_open(target: Path, mode: int = 0o666) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``target``, on error it vanishes.

    ``mode`` is applied at creation (before any byte is written), so a secret is never
    readable by others, not even for an instant. A symbolic link at ``target`` is kept: its
    destination is what gets replaced. A FIFO or a character device (``/dev/null``,
    ``/dev/stdout``) is written in place, never renamed over: run as root, a rename would
    replace ``/dev/null`` itself with a file. Anything else that is not a regular file (a block
    device, a socket) is refused.
    """
    special = _special_file(Path(target))
    if special is not None:
        with special as handle:
            yield handle
        return
    target = replaceable_target(Path(target))
    fd, tmp = create_temp(target, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        commit_temp(tmp, target)
    except BaseException:
        discard_temp(tmp)
        raise


def _special_file(path: Path) -> BinaryIO | None:
    """The FIFO or device at ``path`` opened for writing; None for a regular file or none."""
    try:
        info = os.stat(path)  # through symbolic links: /dev/stdout is one
    except OSError:
        return None
    if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
        return None  # a directory fails at the rename, with its own error
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        raise OSError(errno.EINVAL, "not a regular file, a FIFO or a character device", str(path))
    return os.fdopen(os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0)), "wb")


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o666) -> None:
    with atomic_open(target, mode) as handle:
        handle.write(data)


def replaceable_target(path: Path) -> Path:
    """Where an atomic write to ``path`` must rename its temp file.

    A symbolic link is followed to its final destination (which may not exist yet), so the
    link survives and its destination gets the new content, next to which the temp file is
    made. Anything else is ``path`` itself.
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    return Path(os.path.realpath(path))
