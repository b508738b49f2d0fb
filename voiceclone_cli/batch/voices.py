"""The voices of a batch: each distinct sample read, hashed and prepared once.

Lines name their sample by path (``--sample``, or a JSONL ``sample``). Hashing needs only the
file's bytes, so deciding that a line is already done never pays for preparation (decoding,
fitting, and for the local engine voice analysis). A sample that cannot be used is remembered,
so its lines fail with the same reason without trying again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import SampleError
from voiceclone_cli.prepare.sample import read_sample_blocks

log = logging.getLogger("voiceclone.batch")

CACHE_SIZE = 16  # prepared per-line voices kept at once (each holds up to ~10 MB of audio)


class VoiceCache:
    def __init__(self, engine: Engine, *, strict: bool) -> None:
        self._engine = engine
        self._strict = strict
        self._default: tuple[Path, Any] | None = None
        self._digests: dict[Path, str] = {}
        self._voices: OrderedDict[Path, Any] = OrderedDict()  # least recently used first
        self._refused: dict[Path, SampleError] = {}

    def prepare_default(self, sample: Path) -> None:
        """The --sample voice: prepared first, kept for the whole batch; its errors propagate."""
        voice = self._engine.prepare_voice(sample, strict=self._strict)
        for note in getattr(voice, "notes", []):
            log.info("%s", note)
        key = sample.resolve()
        self._default = (key, voice)
        self.digest(key)

    def digest(self, sample: Path) -> str:
        """SHA-256 of the sample file, for the hash that decides whether a line is done."""
        key = sample.resolve()
        if key in self._refused:
            raise self._refused[key]
        if key not in self._digests:
            try:
                self._digests[key] = _file_sha256(key)
            except SampleError as exc:
                self._refused[key] = exc
                raise
        return self._digests[key]

    def voice(self, sample: Path) -> Any:
        """The engine's prepared voice for ``sample``, or the SampleError that refuses it."""
        key = sample.resolve()
        if key in self._refused:
            raise self._refused[key]
        if self._default is not None and self._default[0] == key:
            return self._default[1]
        if key in self._voices:
            self._voices.move_to_end(key)
            return self._voices[key]
        try:
            voice = self._engine.prepare_voice(key, strict=self._strict)
        except SampleError as exc:
            # Some reasons name the file already ("x.wav is silent"); the rest get its name.
            message = exc.message if key.name in exc.message else f"sample {key.name}: {exc.message}"
            self._refused[key] = SampleError(message, exc.hint)
            raise self._refused[key] from None
        for note in getattr(voice, "notes", []):
            log.info("%s: %s", key.name, note)
        self._voices[key] = voice
        if len(self._voices) > CACHE_SIZE:
            self._voices.popitem(last=False)
        return voice


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for block in read_sample_blocks(path):
        digest.update(block)
    return digest.hexdigest()
