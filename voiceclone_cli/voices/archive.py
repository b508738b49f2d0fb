"""A voice as one portable file: a zip holding ``manifest.json`` (``record.VoiceRecord``),
the prepared sample and, when there are some, the local engine's profile and the voice states
other engines keep with it (``engines/<engine><suffix>``).

Reading trusts nothing in the file. Members are read into memory by their known names, never
extracted by the names the file gives, and each is read no further than its size limit, so a
path-traversal member or a zip bomb is refused before it can do harm; every file must match
the SHA-256 and size the manifest gives it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from voiceclone_cli.errors import InputError
from voiceclone_cli.prepare.sample import MAX_BYTES
from voiceclone_cli.voices.record import (
    FILE_NAMES,
    MAX_STATES,
    PROFILE_NAME,
    NewerRecordError,
    RecordError,
    VoiceRecord,
    is_state_file_name,
)

MANIFEST = "manifest.json"
# A pocket voice state is ~0.6 MB per second of sample (about 19 MB for the longest, 30 s).
MAX_STATE_BYTES = 64 * 1024 * 1024
# A voice file is a few MB, some tens with engine states; anything far larger is not one.
MAX_FILE_BYTES = 128 * 1024 * 1024
_LIMITS = {MANIFEST: 1024 * 1024, PROFILE_NAME: 32 * 1024 * 1024}  # the sample's is MAX_BYTES
_FOREIGN_HINT = "give a file made by 'voiceclone voices export NAME FILE'"
_DAMAGED_HINT = "export the voice again, or copy the file again"


def write_archive(handle: BinaryIO, record: VoiceRecord, contents: dict[str, bytes]) -> None:
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, record.to_json())
        for name in sorted(contents):
            archive.writestr(name, contents[name])


def read_archive(path: Path) -> tuple[VoiceRecord, dict[str, bytes]]:
    """The voice's record and files, each checked; ``InputError`` (exit 3) saying what is wrong."""
    _check_size(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(path, archive)
            if MANIFEST not in members:
                raise InputError(f"{path.name} is not a voiceclone voice file (it has no {MANIFEST})",
                                 hint=_FOREIGN_HINT)
            record = _record(path, _read_member(path, archive, members[MANIFEST]))
            listed = {**record.files, **record.state_files}
            unexpected = set(members) - {MANIFEST} - set(listed)
            missing = set(listed) - set(members)
            if unexpected or missing:
                problem = (f"holds {sorted(unexpected)[0]!r}, which its manifest does not list" if unexpected
                           else f"lacks {sorted(missing)[0]!r}, which its manifest lists")
                raise InputError(f"{path.name} is damaged: it {problem}", hint=_DAMAGED_HINT)
            if sum(entry["size"] for entry in listed.values()) > MAX_FILE_BYTES:
                raise InputError(f"{path.name} unpacks to more than {MAX_FILE_BYTES:,} bytes; "
                                 "refusing it (a zip bomb?)", hint=_FOREIGN_HINT)
            contents = {name: _read_member(path, archive, members[name]) for name in listed}
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path.name} is not a voiceclone voice file, or it is truncated ({exc})",
                         hint=_FOREIGN_HINT) from None
    for name, data in contents.items():
        problem = record.mismatch(name, data)
        if problem:
            raise InputError(f"{path.name} is damaged: {problem}", hint=_DAMAGED_HINT)
    return record, contents


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"voice file not found: {path}", hint="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if path.is_dir():
        raise InputError(f"{path} is a directory", hint=_FOREIGN_HINT)
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path.name} is {size / 1e6:.0f} MB: far too large for a voice file",
                         hint=_FOREIGN_HINT)


def _members(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The members by name; any name that is not one of ours is refused, unsafe ones first."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or ":" in name:
            raise InputError(f"{path.name} holds a member with an unsafe path ({name!r}); refusing it",
                             hint=_FOREIGN_HINT)
        if name != MANIFEST and name not in FILE_NAMES and not is_state_file_name(name):
            raise InputError(f"{path.name} holds an unexpected member {name!r}", hint=_FOREIGN_HINT)
        if name in members:
            raise InputError(f"{path.name} holds {name!r} twice", hint=_FOREIGN_HINT)
        if len(members) > 1 + len(FILE_NAMES) + MAX_STATES:
            raise InputError(f"{path.name} holds too many members to be a voice file", hint=_FOREIGN_HINT)
        if info.flag_bits & 0x1:
            raise InputError(f"{path.name} is encrypted", hint=_FOREIGN_HINT)
        members[name] = info
    return members


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    limit = MAX_STATE_BYTES if is_state_file_name(info.filename) else _LIMITS.get(info.filename, MAX_BYTES)
    bomb = InputError(f"{path.name}: {info.filename} unpacks to more than {limit:,} bytes; "
                      "refusing it (a zip bomb?)", hint=_FOREIGN_HINT)
    if info.file_size > limit:
        raise bomb
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)  # the sizes in the zip may lie: never read past this
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        raise InputError(f"{path.name} is damaged or truncated ({info.filename}: {exc})",
                         hint=_DAMAGED_HINT) from None
    if len(data) > limit:
        raise bomb
    return data


def _record(path: Path, raw: bytes) -> VoiceRecord:
    try:
        return VoiceRecord.from_json(raw)
    except NewerRecordError as exc:
        raise InputError(f"{path.name} was made by a newer voiceclone ({exc})",
                         hint="upgrade voiceclone: pip install -U voiceclone-cli") from None
    except RecordError as exc:
        raise InputError(f"{path.name} is not a voiceclone voice file: its {MANIFEST} is invalid ({exc})",
                         hint=_FOREIGN_HINT) from None
