"""Engine answers kept on disk by what produced them, so no chunk is ever paid for twice.

A chunk's key is the SHA-256 of everything that decides its audio: the engine, where it runs
(the API URL; "" offline), the exact sample bytes, the chunk's text, speed, pitch and the
engine's version. A re-run after a crash, a Ctrl-C or a failed batch line therefore sends only
the chunks that were never answered, and gets back the very samples the engine gave before.

Each entry is one file ``responses/<2 hex>/<key>.vcr``: a fixed header (magic, encoding, rate,
frame count, payload length, CRC-32 of the payload) and the samples. Audio whose every sample
is an exact 16-bit PCM value (what the API sends) is stored as int16 — half the size and still
bit-exact — anything else as float32. An answer that says where its sentences meet
(``Audio.sentence_bounds``) is stored with a second magic and those times (float64) after
the samples, inside the checksum; an answer without them is written exactly as before, so an
older voiceclone still reads it. A short or damaged entry fails the checksum and is
deleted, never returned. (CRC-32 rather than a cryptographic hash: it catches torn writes
and bit rot, and keeps a hit of a 20 s answer around 1 ms.) Entries are written atomically (temp file + rename) with mode 0600, so
two processes storing the same chunk each leave a whole file.

The size cap is kept without rescanning on every store: the folder is measured once, when a
run first stores, then each store adds to that figure; only when it passes the cap is the
folder listed and the least recently used entries (a hit refreshes the file's mtime) removed
until it is under 90 % of the cap. Other processes' stores are seen at the next measurement.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voiceclone_cli.output.atomic import atomic_write_bytes
from voiceclone_cli.dirs import ClearedCache, cache_dir

if TYPE_CHECKING:
    from voiceclone_cli.audio.wav import Audio

log = logging.getLogger("voiceclone.cache")

KEY_VERSION = 1  # bump when what the key covers changes: every old entry is then unused
RUNS_KEPT = 20
EVICT_TO = 0.9  # after an eviction the folder is this fraction of the cap: no evict per store

_MAGIC = b"VCRESP01"
_MAGIC_WITH_BOUNDS = b"VCRESP02"
_HEADER = struct.Struct("<8sBIQQI")  # magic, encoding, rate, frames, payload bytes, CRC-32
_INT16, _FLOAT32 = 1, 2
_SUFFIX = ".vcr"
_RUNS_FILE = "runs.jsonl"


def cache_size_limit() -> int:
    """The ``cache-size`` setting (environment, config file or default), in bytes; 0 turns
    storing off. Only this setting is checked: a bad one elsewhere is not this cache's concern."""
    from voiceclone_cli.settings import resolve

    settings = resolve(strict=False)
    error = settings.error("cache-size")
    if error is not None:
        raise error
    return settings.cache_size


def response_key(*, engine: str, endpoint: str, sample_sha256: str, text: str,
                 speed: float, pitch: float, version: str) -> str:
    identity = {
        "v": KEY_VERSION, "engine": engine, "endpoint": endpoint, "sample": sample_sha256,
        "text": text, "speed": float(speed), "pitch": float(pitch), "version": version,
    }
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def encode_entry(audio: Audio) -> bytes:
    import numpy as np

    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    scaled = np.round(samples * 32768.0)
    as_int16 = None
    if scaled.size and scaled.min() >= -32768 and scaled.max() <= 32767:
        candidate = scaled.astype("<i2")
        if np.array_equal(candidate.astype(np.float32) / np.float32(32768.0), samples):
            as_int16 = candidate
    if as_int16 is not None:
        encoding, payload = _INT16, as_int16.tobytes()
    else:
        encoding, payload = _FLOAT32, samples.astype("<f4").tobytes()
    magic = _MAGIC
    if audio.sentence_bounds:
        magic = _MAGIC_WITH_BOUNDS
        payload += np.asarray(audio.sentence_bounds, dtype="<f8").tobytes()
    header = _HEADER.pack(magic, encoding, audio.rate, len(samples), len(payload), zlib.crc32(payload))
    return header + payload


def decode_entry(data: bytes) -> Audio:
    """The stored audio; ``ValueError`` if the entry is not whole and intact."""
    import numpy as np

    from voiceclone_cli.audio.wav import Audio

    if len(data) < _HEADER.size:
        raise ValueError("shorter than its header")
    magic, encoding, rate, frames, size, digest = _HEADER.unpack_from(data)
    if magic not in (_MAGIC, _MAGIC_WITH_BOUNDS):
        raise ValueError("not a response cache entry")
    payload = memoryview(data)[_HEADER.size:]
    if len(payload) != size:
        raise ValueError(f"truncated ({len(payload)} of {size} bytes)")
    if zlib.crc32(payload) != digest:
        raise ValueError("checksum mismatch")
    width = {_INT16: 2, _FLOAT32: 4}.get(encoding)
    extra = size - (width or 0) * frames
    if width is None or extra < 0 or extra % 8 or (extra > 0) != (magic == _MAGIC_WITH_BOUNDS):
        raise ValueError("inconsistent header")
    sample_bytes = payload[: width * frames]
    if encoding == _INT16:
        samples = np.frombuffer(sample_bytes, "<i2").astype(np.float32) / np.float32(32768.0)
    else:
        samples = np.frombuffer(sample_bytes, "<f4").astype(np.float32)
    bounds = np.frombuffer(payload[width * frames:], "<f8")
    if len(bounds) and not (np.all(np.isfinite(bounds)) and bounds[0] >= 0 and np.all(np.diff(bounds) >= 0)
                            and bounds[-1] * rate <= frames):
        raise ValueError("sentence times outside the audio")
    return Audio(samples, rate, tuple(bounds.tolist()))


@dataclass
class CacheStats:
    entries: int
    bytes: int
    max_bytes: int
    runs: list[dict[str, Any]]


class ResponseCache:
    """Thread-safe; see the module docstring for the format, the cap and eviction."""

    def __init__(self, directory: Path | None = None, *, max_bytes: int | None = None) -> None:
        self.directory = (directory or cache_dir()) / "responses"
        self.max_bytes = cache_size_limit() if max_bytes is None else max_bytes
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._usage: int | None = None  # bytes in the folder, measured on the first store
        self._write_failed = False

    def path_for(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}{_SUFFIX}"

    def contains(self, key: str) -> bool:
        """Whether an entry exists, without reading it or counting a hit (for dry runs)."""
        return self.path_for(key).is_file()

    def get(self, key: str) -> Audio | None:
        path = self.path_for(key)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:  # absent (the usual miss) or unreadable: both mean "ask the engine"
            self._count(hit=False)
            return None
        try:
            audio = decode_entry(data)
        except ValueError as exc:
            log.warning("response cache entry %s is damaged (%s); asking again", path.name, exc)
            path.unlink(missing_ok=True)
            self._count(hit=False)
            return None
        try:
            os.utime(path)  # recently used: the last to be evicted
        except OSError:
            pass
        self._count(hit=True)
        return audio

    def put(self, key: str, audio: Audio) -> None:
        """Best effort: a cache that cannot be written only costs money on a later re-run."""
        if self.max_bytes <= 0:
            return
        data = encode_entry(audio)
        path = self.path_for(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data, mode=0o600)
        except OSError as exc:
            with self._lock:
                first, self._write_failed = not self._write_failed, True
            log.log(logging.WARNING if first else logging.DEBUG,  # once a run, not once a chunk
                    "cannot write the response cache in %s: %s (a re-run will ask again)",
                    self.directory, exc.strerror or exc)
            return
        with self._lock:
            if self._usage is None:
                self._usage = sum(size for _, _, size in self._entries())
            else:
                self._usage += len(data)
            if self._usage > self.max_bytes:
                self._usage = self._evict(int(self.max_bytes * EVICT_TO))

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _entries(self) -> list[tuple[float, Path, int]]:
        """(last use, path, bytes) of every entry; entries vanishing meanwhile are skipped."""
        found = []
        try:
            shards = list(os.scandir(self.directory))
        except OSError:
            return found
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            try:
                with os.scandir(shard.path) as entries:
                    for entry in entries:
                        if entry.name.endswith(_SUFFIX):
                            try:
                                st = entry.stat(follow_symlinks=False)
                            except OSError:
                                continue
                            found.append((st.st_mtime, Path(entry.path), st.st_size))
            except OSError:
                continue
        return found

    def _evict(self, target: int) -> int:
        entries = sorted(self._entries(), key=lambda e: e[0])
        total = sum(size for _, _, size in entries)
        removed = 0
        for _, path, size in entries:
            if total <= target:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            total -= size
            removed += 1
        log.debug("response cache: evicted %d entries, %d bytes left", removed, total)
        return total

    # ---- runs, stats, clearing --------------------------------------------------------------

    def record_run(self, *, engine: str, hits: int, misses: int) -> None:
        """Append this run's counts (one short O_APPEND write, safe beside other processes)."""
        if hits == 0 and misses == 0:
            return
        line = json.dumps({"time": round(time.time()), "engine": engine, "hits": hits, "misses": misses})
        path = self.directory / _RUNS_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
            runs = self._read_runs(limit=None)
            if len(runs) > 2 * RUNS_KEPT:  # trimmed now and then, not on every run
                text = "".join(json.dumps(run) + "\n" for run in runs[-RUNS_KEPT:])
                atomic_write_bytes(path, text.encode(), mode=0o600)
        except OSError as exc:
            log.debug("cannot record the run in %s: %s", path, exc)

    def _read_runs(self, limit: int | None = RUNS_KEPT) -> list[dict[str, Any]]:
        runs = []
        try:
            lines = (self.directory / _RUNS_FILE).read_text("utf-8", "replace").splitlines()
        except OSError:
            return runs
        for line in lines:
            try:
                run = json.loads(line)
            except ValueError:
                continue  # torn by a crash
            if isinstance(run, dict):
                runs.append(run)
        return runs if limit is None else runs[-limit:]

    def stats(self) -> CacheStats:
        entries = self._entries()
        return CacheStats(len(entries), sum(size for _, _, size in entries), self.max_bytes, self._read_runs())

    def clear(self) -> ClearedCache:
        """Remove every entry (and temp files a killed run left in the shards) and the run log."""
        files = size = 0
        try:
            shards = [entry for entry in os.scandir(self.directory) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            shards = []
        for shard in shards:
            with os.scandir(shard.path) as entries:
                for entry in list(entries):
                    try:
                        bytes_ = entry.stat(follow_symlinks=False).st_size
                        os.unlink(entry.path)
                    except OSError:
                        continue
                    if entry.name.endswith(_SUFFIX):
                        files += 1
                    size += bytes_
            try:
                os.rmdir(shard.path)
            except OSError:  # another run stored meanwhile: its entry stays
                pass
        (self.directory / _RUNS_FILE).unlink(missing_ok=True)
        with self._lock:
            self._usage = None
        return ClearedCache(files, size)
