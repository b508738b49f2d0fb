"""The voices of a batch: each distinct sample file or saved voice read, hashed and prepared once.

Lines name their voice by a sample path (``--sample``, a JSONL ``sample``, a cast file) or by a
saved voice's name (``--voice``, a JSONL ``voice``, a cast name). Hashing needs only bytes, so
deciding that a line is already done never pays for preparation (decoding, fitting, and for
the local engine voice analysis). A voice that cannot be used is remembered, so its lines fail
with the same reason without trying again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from voiceclone_cli.engines.base import Engine
from voiceclone_cli.errors import InputError, SampleError
from voiceclone_cli.prepare.sample import read_sample_blocks

log = logging.getLogger("voiceclone.batch")

CACHE_SIZE = 16  # prepared per-line voices kept at once (each holds up to ~10 MB of audio)


@dataclass(frozen=True)
class SavedVoice:
    """A voice from the library, by name (``--voice``, a JSONL ``voice``, a cast)."""

    name: str

    def __str__(self) -> str:
        return f"voice {self.name}"


VoiceRef = Union[Path, SavedVoice]


def _key(ref: VoiceRef) -> Any:
    return ("voice", ref.name.casefold()) if isinstance(ref, SavedVoice) else ref.resolve()


class VoiceCache:
    """``dry_run``: samples are checked and hashed, but no engine voice is prepared."""

    def __init__(self, engine: Engine | None, *, strict: bool, dry_run: bool = False) -> None:
        self._engine = engine
        self._strict = strict
        self._dry_run = dry_run
        self._default: tuple[Any, Any] | None = None
        self._digests: dict[Any, str] = {}
        self._voices: OrderedDict[Any, Any] = OrderedDict()  # least recently used first
        self._refused: dict[Any, InputError] = {}
        self.cast: dict[str, VoiceRef] = {}  # a dialogue script's speakers (casefolded) and their voices

    def prepare_default(self, ref: VoiceRef) -> None:
        """The job's own voice: prepared first, kept for the whole batch; its errors propagate."""
        self._default = (_key(ref), self._prepare(ref, quiet_name=True))
        self.digest(ref)

    def digest(self, ref: VoiceRef) -> str:
        """A hash of the voice's bytes, for the hash that decides whether a line is done."""
        key = _key(ref)
        if key in self._refused:
            raise self._refused[key]
        if key not in self._digests:
            try:
                if isinstance(ref, SavedVoice):
                    from voiceclone_cli.voices.library import VoiceLibrary

                    self._digests[key] = VoiceLibrary().get(ref.name).sha256
                else:
                    self._digests[key] = _file_sha256(ref.resolve())
            except InputError as exc:
                self._refused[key] = exc
                raise
        return self._digests[key]

    def voice(self, ref: VoiceRef) -> Any:
        """The engine's prepared voice for ``ref``, or the error that refuses it."""
        key = _key(ref)
        if key in self._refused:
            raise self._refused[key]
        if self._default is not None and self._default[0] == key:
            return self._default[1]
        if key in self._voices:
            self._voices.move_to_end(key)
            return self._voices[key]
        try:
            voice = self._prepare(ref)
        except SampleError as exc:
            # Some reasons name the file already ("x.wav is silent"); the rest get its name.
            name = ref.name if isinstance(ref, Path) else str(ref)
            message = exc.message if name in exc.message else f"sample {name}: {exc.message}"
            self._refused[key] = SampleError(message, exc.hint)
            raise self._refused[key] from None
        except InputError as exc:  # e.g. an unknown or damaged saved voice
            self._refused[key] = exc
            raise
        self._voices[key] = voice
        if len(self._voices) > CACHE_SIZE:
            self._voices.popitem(last=False)
        return voice

    def _prepare(self, ref: VoiceRef, *, quiet_name: bool = False) -> Any:
        from voiceclone_cli.prepare.voice import load_voice_sample

        if isinstance(ref, SavedVoice):
            prepared = load_voice_sample(voice=ref.name)
        else:
            prepared = load_voice_sample(sample=ref.resolve(), strict=self._strict)
        label = "" if quiet_name else f"{ref.name if isinstance(ref, Path) else ref}: "
        for note in prepared.notes:
            log.info("%s%s", label, note)
        if self._dry_run or self._engine is None:
            return prepared
        return self._engine.prepare_voice(prepared)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for block in read_sample_blocks(path):
        digest.update(block)
    return digest.hexdigest()
