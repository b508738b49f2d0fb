"""The manifest that makes a batch resumable, and the clean-up a resumed batch needs.

``OUTDIR/.voiceclone-manifest.jsonl`` gets one JSON line per finished output, appended and
fsynced only after the output file itself is complete and renamed into place. A kill -9 at any
moment therefore leaves every recorded output whole; at worst the last line is torn, and it is
cut off when the manifest is next opened. (Temp files a killed run leaves are removed by the
next run through ``atomic.remove_stale_temps``, only once the process that made them is gone.) A later line for the same output wins over an
earlier one, so the file is only ever appended to.

A re-run skips a line only if the record for its output carries the same hash (text + sample +
speed + pitch + engine) and the file still opens as audio of the recorded length. The open
manifest also locks OUTDIR, so a second batch on the same folder is refused instead of racing.

With subtitles asked for, a line's sentence cues go to a hidden sidecar next to its WAV
(``.NAME.wav.cues.json``), written before the line is recorded and tied to its hash and length,
so the manifest stays one short line per output and a resumed join still has every line's cues.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from voiceclone_cli.errors import OutputError

MANIFEST_NAME = ".voiceclone-manifest.jsonl"
CUES_SUFFIX = ".cues.json"
HASH_VERSION = 1  # bump to redo every line when what the hash covers changes


def line_hash(*, text: str, sample_sha256: str, speed: float, pitch: float, engine: str) -> str:
    """Identity of a line's audio: anything that changes the speech changes the hash."""
    identity = {
        "v": HASH_VERSION, "text": text, "sample": sample_sha256,
        "speed": float(speed), "pitch": float(pitch), "engine": engine,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Finished:
    """One manifest line: an output that is complete on disk."""

    line: int
    output: str  # relative to OUTDIR
    hash: str
    seconds: float
    frames: int
    rate: int


class Manifest:
    """Append-only, thread-safe record of finished outputs; see the module docstring."""

    def __init__(self, path: Path, fd: int | None, finished: dict[str, Finished]) -> None:
        self.path = path
        self._fd: int | None = fd
        self._finished = finished
        self._by_folded_name = {name.casefold(): name for name in finished}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, outdir: Path) -> Manifest:
        """Lock OUTDIR, read what is finished, and cut off a line torn by a crash."""
        path = outdir / MANIFEST_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot open the batch manifest {path}: {exc.strerror}") from None
        try:
            _lock(fd, outdir)
            finished, complete_bytes = _read(path)
            if complete_bytes < os.fstat(fd).st_size:
                os.ftruncate(fd, complete_bytes)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, finished)

    @classmethod
    def read_only(cls, outdir: Path) -> Manifest:
        """What is finished, without locking, creating or repairing anything (for dry runs)."""
        path = outdir / MANIFEST_NAME
        try:
            finished, _ = _read(path)
        except FileNotFoundError:
            finished = {}
        except OSError as exc:
            raise OutputError(f"cannot read the batch manifest {path}: {exc.strerror}") from None
        return cls(path, None, finished)

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def finished(self, output: str) -> Finished | None:
        return self._finished.get(output)

    def case_variant(self, output: str) -> str | None:
        """A recorded output whose name differs from ``output`` only in letter case.

        On macOS and Windows disks the two are one file, so writing one would overwrite the
        other, which is already done and recorded.
        """
        with self._lock:
            recorded = self._by_folded_name.get(output.casefold())
        return recorded if recorded is not None and recorded != output else None

    def record(self, entry: Finished) -> None:
        """Append one whole line and fsync it: the output it names is complete on disk."""
        data = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:  # closed after Ctrl-C: the file stays, unrecorded, and is redone
                return
            try:
                written = os.write(self._fd, data)
                os.fsync(self._fd)
            except OSError as exc:
                raise OutputError(f"cannot write the batch manifest {self.path}: {exc.strerror}") from None
            if written != len(data):
                raise OutputError(f"cannot write the batch manifest {self.path}: the disk is full")
            self._finished[entry.output] = entry
            self._by_folded_name[entry.output.casefold()] = entry.output

    def close(self) -> None:
        """Release the lock; later ``record`` calls (from abandoned workers) do nothing."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _lock(fd: int, outdir: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, so a second batch is not detected
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputError(
            f"{outdir} is in use by another voiceclone batch",
            hint="wait for it to finish, or give another -d/--outdir",
        ) from None


def _read(path: Path) -> tuple[dict[str, Finished], int]:
    """The latest record per output, and how many leading bytes are whole lines."""
    finished: dict[str, Finished] = {}
    complete_bytes = 0
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # torn: the process died while appending this line
            complete_bytes += len(raw)
            entry = _parse(raw)
            if entry is not None:
                finished[entry.output] = entry
    return finished, complete_bytes


def _parse(raw: bytes) -> Finished | None:
    try:
        data = json.loads(raw)
        entry = Finished(
            line=int(data["line"]), output=str(data["output"]), hash=str(data["hash"]),
            seconds=float(data["seconds"]), frames=int(data["frames"]), rate=int(data["rate"]),
        )
    except (ValueError, TypeError, KeyError):
        return None  # not a record this version wrote: the line will simply be redone
    return entry


def cues_path(output: Path) -> Path:
    """Where a line's sentence cues are kept: a hidden sidecar next to its WAV.

    Output names never start with '.', so no line can claim this name.
    """
    return output.with_name(f".{output.name}{CUES_SUFFIX}")


def save_cues(output: Path, digest: str, frames: int, cues: list) -> None:
    """Write the cues of a line before the manifest records it, so a resume still has them."""
    from voiceclone_cli.output.atomic import atomic_write_bytes

    record = {"hash": digest, "frames": frames, "cues": [[c.start, c.end, c.text] for c in cues]}
    try:
        atomic_write_bytes(cues_path(output), json.dumps(record, ensure_ascii=False).encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write the cues of {output}: {exc.strerror or exc}") from None


def load_cues(output: Path, entry: Finished) -> list | None:
    """The cues saved with the line ``entry`` records, or None if there are none for that audio
    (a line made without subtitles, or by an older version)."""
    from voiceclone_cli.speech import Cue

    try:
        record = json.loads(cues_path(output).read_bytes())
        if record["hash"] != entry.hash or int(record["frames"]) != entry.frames:
            return None
        return [Cue(float(start), float(end), str(text)) for start, end, text in record["cues"]]
    except (OSError, ValueError, TypeError, KeyError):
        return None


def output_is_intact(path: Path, entry: Finished) -> bool:
    """The file opens as audio with the recorded rate and length, and its last frame reads."""
    import soundfile as sf

    try:
        with sf.SoundFile(path) as audio:
            if audio.frames != entry.frames or audio.samplerate != entry.rate or audio.frames == 0:
                return False
            audio.seek(audio.frames - 1)
            return len(audio.read(1)) == 1
    except (OSError, RuntimeError):  # missing, unreadable or not audio (LibsndfileError)
        return False
