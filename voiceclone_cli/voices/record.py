"""The description of one stored voice: ``voice.json`` in its folder, ``manifest.json`` in an
exported file. One schema for both, so an export is the folder zipped and an import is the
same checks the library runs on its own folders.

It names every file of the voice with its SHA-256 and size: a sample or profile that was
damaged or swapped is found out before it is uploaded or used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

FORMAT = "voiceclone-voice"
VERSION = 1
SAMPLE_NAMES = {"WAV": "sample.wav", "MP3": "sample.mp3", "M4A": "sample.m4a"}
PROFILE_NAME = "profile.npz"
FILE_NAMES = frozenset({*SAMPLE_NAMES.values(), PROFILE_NAME})

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


@dataclass(frozen=True)
class VoiceRecord:
    voice: dict[str, Any]  # the fields in _FIELDS
    files: dict[str, dict[str, Any]]  # file name -> {"sha256": ..., "size": ...}

    @classmethod
    def build(cls, voice: dict[str, Any], contents: dict[str, bytes]) -> VoiceRecord:
        files = {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(contents.items())}
        return cls(dict(voice), files)

    @property
    def sample_name(self) -> str:
        return SAMPLE_NAMES[self.voice["format"]]

    @property
    def has_profile(self) -> bool:
        return PROFILE_NAME in self.files

    def with_voice(self, **changes: Any) -> VoiceRecord:
        return VoiceRecord({**self.voice, **changes}, self.files)

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "version": VERSION, "voice": self.voice, "files": self.files}
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    def mismatch(self, name: str, data: bytes) -> str | None:
        """Why ``data`` is not the file ``name`` this record describes, or None if it is."""
        expected = self.files[name]
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
        record = cls(voice, files)
        if set(files) - {record.sample_name, PROFILE_NAME} or record.sample_name not in files:
            raise RecordError(f"the files do not match a {voice['format']} sample")
        if files[record.sample_name]["sha256"] != voice["sha256"]:
            raise RecordError("the sample's SHA-256 differs from the voice's")
        if record.has_profile != (voice["profile_version"] is not None):
            raise RecordError("the profile and its version disagree")
        return record
