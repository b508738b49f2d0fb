"""The description of one stored voice: ``voice.json`` in its folder, ``manifest.json`` in an
exported file. One schema for both, so an export is the folder zipped and an import is the
same checks the library runs on its own folders.

It names every file of the voice with its SHA-256 and size: a sample or profile that was
damaged or swapped is found out before it is uploaded or used.

Engines may also keep their own voice state with a voice (``engine_states``: the state a
neural engine computes from the sample, so it is never computed twice). Those files are
derived data, listed apart from ``files``: a damaged or outdated state is dropped and computed
again, and never makes the voice damaged. A voiceclone that predates them ignores the key, so
the format version stays 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

FORMAT = "voiceclone-voice"
VERSION = 1
SAMPLE_NAMES = {"WAV": "sample.wav", "MP3": "sample.mp3", "M4A": "sample.m4a"}
PROFILE_NAME = "profile.npz"
FILE_NAMES = frozenset({*SAMPLE_NAMES.values(), PROFILE_NAME})
STATE_DIR = "engines"  # engine voice states: engines/<engine name><suffix>
MAX_STATES = 4  # engines that may keep a state with one voice
MAX_IDENTITY_CHARS = 200
_ENGINE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # one case: file systems may ignore it
_SUFFIX = re.compile(r"\.[a-z0-9]{1,16}")
_STATE_FILE = re.compile(rf"{STATE_DIR}/({_ENGINE_NAME.pattern})({_SUFFIX.pattern})")

_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "note": (str,), "source": (str,), "seconds": (int, float), "format": (str,),
    "filename": (str,), "mime_type": (str,), "added": (str,), "sha256": (str,),
    "profile_version": (int, type(None)),
}


class RecordError(ValueError):
    """The description is not one this version can trust; the text says why."""


class NewerRecordError(RecordError):
    """Written by a newer voiceclone: refused rather than half understood."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_file_name(engine: str, suffix: str) -> str | None:
    """Where ``engine`` keeps its voice state in a voice, or None if the name or suffix would
    not make a plain, portable file name (that engine's state is then not kept)."""
    if not _ENGINE_NAME.fullmatch(engine) or not _SUFFIX.fullmatch(suffix):
        return None
    return f"{STATE_DIR}/{engine}{suffix}"


def is_state_file_name(name: str) -> bool:
    return _STATE_FILE.fullmatch(name) is not None


@dataclass(frozen=True)
class VoiceRecord:
    voice: dict[str, Any]  # the fields in _FIELDS
    files: dict[str, dict[str, Any]]  # file name -> {"sha256": ..., "size": ...}
    # engine name -> {"identity": ..., "file": ..., "sha256": ..., "size": ...}; optional
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, voice: dict[str, Any], contents: dict[str, bytes],
              states: dict[str, tuple[str, str, bytes]] | None = None) -> VoiceRecord:
        """``states``: engine name -> (identity, file name, bytes)."""
        files = {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(contents.items())}
        record = cls(dict(voice), files)
        for engine, (identity, file, data) in sorted((states or {}).items()):
            record = record.with_state(engine, identity, file, data)
        return record

    @property
    def sample_name(self) -> str:
        return SAMPLE_NAMES[self.voice["format"]]

    @property
    def has_profile(self) -> bool:
        return PROFILE_NAME in self.files

    @property
    def state_files(self) -> dict[str, dict[str, Any]]:
        """Each kept engine state's file name -> its SHA-256 and size."""
        return {entry["file"]: {"sha256": entry["sha256"], "size": entry["size"]} for entry in self.states.values()}

    def with_voice(self, **changes: Any) -> VoiceRecord:
        return replace(self, voice={**self.voice, **changes})

    def with_state(self, engine: str, identity: str, file: str, data: bytes) -> VoiceRecord:
        entry = {"identity": identity, "file": file, "sha256": sha256(data), "size": len(data)}
        return replace(self, states={**self.states, engine: entry})

    def without_state(self, engine: str) -> VoiceRecord:
        return replace(self, states={k: v for k, v in self.states.items() if k != engine})

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "version": VERSION, "voice": self.voice, "files": self.files}
        if self.states:
            document["engine_states"] = self.states
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    def mismatch(self, name: str, data: bytes) -> str | None:
        """Why ``data`` is not the file ``name`` this record describes (one of ``files`` or of
        ``state_files``), or None if it is."""
        expected = self.files[name] if name in self.files else self.state_files[name]
        if len(data) != expected["size"]:
            return f"{name} is {len(data)} bytes, expected {expected['size']}"
        if sha256(data) != expected["sha256"]:
            return f"{name} does not match its recorded SHA-256"
        return None

    @classmethod
    def from_json(cls, raw: bytes) -> VoiceRecord:
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordError(f"not valid JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else None
            raise RecordError(f"format is {found!r}, not {FORMAT!r}")
        version = document.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RecordError(f"version {version!r} is not a format version")
        if version > VERSION:
            raise NewerRecordError(f"voice format version {version}; this voiceclone reads up to {VERSION}")
        voice, files = document.get("voice"), document.get("files")
        if not isinstance(voice, dict) or not isinstance(files, dict):
            raise RecordError("'voice' or 'files' is missing")
        for key, types in _FIELDS.items():
            value = voice.get(key)
            if not isinstance(value, types) or isinstance(value, bool):
                raise RecordError(f"field {key!r} is missing or has the wrong type")
        if voice["format"] not in SAMPLE_NAMES:
            raise RecordError(f"sample format {voice['format']!r} is not WAV, MP3 or M4A")
        for name, entry in files.items():
            if name not in FILE_NAMES:
                raise RecordError(f"unexpected file {name!r}")
            if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                    and isinstance(entry.get("size"), int)):
                raise RecordError(f"file {name!r} lacks its sha256 or size")
        record = cls(voice, files, _states(document.get("engine_states", {})))
        if set(files) - {record.sample_name, PROFILE_NAME} or record.sample_name not in files:
            raise RecordError(f"the files do not match a {voice['format']} sample")
        if files[record.sample_name]["sha256"] != voice["sha256"]:
            raise RecordError("the sample's SHA-256 differs from the voice's")
        if record.has_profile != (voice["profile_version"] is not None):
            raise RecordError("the profile and its version disagree")
        return record


def _states(states: Any) -> dict[str, dict[str, Any]]:
    """The well-formed entries of ``engine_states``, each naming a file of its own engine under
    ``engines/``. Others are dropped, not refused: a state is only ever a saving of time, so a
    bad entry costs that engine one computation and never the voice."""
    if not isinstance(states, dict):
        return {}
    kept: dict[str, dict[str, Any]] = {}
    for engine, entry in states.items():
        if not isinstance(entry, dict) or len(kept) == MAX_STATES:
            continue
        identity, file, size = entry.get("identity"), entry.get("file"), entry.get("size")
        match = _STATE_FILE.fullmatch(file) if isinstance(file, str) else None
        if (match is not None and match.group(1) == engine
                and isinstance(identity, str) and 0 < len(identity) <= MAX_IDENTITY_CHARS
                and isinstance(entry.get("sha256"), str)
                and isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            kept[engine] = {"identity": identity, "file": file, "sha256": entry["sha256"], "size": size}
    return kept
