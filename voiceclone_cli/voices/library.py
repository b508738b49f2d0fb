"""The voice library: voices cloned once, used by name.

Layout, under the user data directory (``$VOICECLONE_DATA_DIR`` overrides it)::

    voices/index.json        id -> name, for quick listing and shell completion
    voices/.lock             every change holds an exclusive lock on it
    voices/<id>/voice.json   the voice's description (``record.VoiceRecord``)
    voices/<id>/sample.wav   the prepared sample: exactly the bytes that are uploaded
    voices/<id>/profile.npz  the local engine's profile, when it was installed
    voices/<id>/engines/     voice states other engines keep (``pocket.safetensors``), made
                             on the voice's first use with that engine (``states``)

Folders are named by a random id, never by the voice's name, so names may use any script and
differ from each other only in case without meeting a file system's rules. The folders are the
truth: a voice is complete once its folder is renamed into place (it is built under a hidden
name), and the index is only a summary of them, rebuilt whenever it is missing, damaged or out
of step. A damaged folder is reported as such and never stops the other voices from working.
An engine state is derived data: one that is damaged or made for another model is left out
(and made again on use), never a reason to call the voice damaged.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from voiceclone_cli.dirs import DATA_DIR_ENV, data_dir
from voiceclone_cli.errors import InputError, OutputError, SampleError
from voiceclone_cli.voices.names import closest, name_key, validate_name
from voiceclone_cli.voices.record import PROFILE_NAME, SAMPLE_NAMES, STATE_DIR, RecordError, VoiceRecord

if TYPE_CHECKING:
    from voiceclone_cli.prepare.sample import PreparedSample

log = logging.getLogger("voiceclone.voices")

VOICE_FILE = "voice.json"
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
INDEX_FORMAT = "voiceclone-voice-index"
_NEW, _OLD = ".new-", ".old-"  # folders being built or removed: hidden, never listed


class UnknownVoiceError(InputError):
    pass


class DamagedVoiceError(InputError):
    pass


class VoiceExistsError(InputError):
    pass


@dataclass(frozen=True)
class StoredVoice:
    id: str
    folder: Path
    record: VoiceRecord

    @property
    def name(self) -> str:
        return self.record.voice["name"]

    @property
    def note(self) -> str:
        return self.record.voice["note"]

    @property
    def seconds(self) -> float:
        return float(self.record.voice["seconds"])

    @property
    def sha256(self) -> str:
        return self.record.voice["sha256"]

    @property
    def sample_path(self) -> Path:
        return self.folder / self.record.sample_name

    @property
    def profile_path(self) -> Path | None:
        return self.folder / PROFILE_NAME if self.record.has_profile else None

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines that need no analysis of the sample: remote always, local when a
        profile is stored, and every engine that keeps a state with the voice."""
        ready = ("remote", "local") if self.record.has_profile else ("remote",)
        return ready + tuple(sorted(set(self.record.states) - set(ready)))

    def engine_state(self, engine: str, identity: str) -> bytes | None:
        """The state ``engine`` keeps with this voice, if it was made by ``identity`` (the
        engine's model and state format) and its file is intact; None otherwise (logged)."""
        entry = self.record.states.get(engine)
        if entry is None:
            return None
        if entry["identity"] != identity:
            log.info("the %s voice state kept with voice %r was made for another model; making it again",
                     engine, self.name)
            return None
        data, problem = self.state_file(entry)
        if problem:
            log.warning("the %s voice state kept with voice %r is unusable (%s); making it again",
                        engine, self.name, problem)
            return None
        return data

    def state_file(self, entry: dict[str, Any]) -> tuple[bytes, str | None]:
        """A kept state's bytes, and what is wrong with them (None: intact)."""
        try:
            data = (self.folder / entry["file"]).read_bytes()
        except OSError as exc:
            return b"", f"cannot read {entry['file']}: {exc.strerror}"
        return data, self.record.mismatch(entry["file"], data)

    def prepared_sample(self) -> PreparedSample:
        """The sample exactly as stored, so an upload (and the response cache key, its
        SHA-256) is the same as for the original file; DamagedVoiceError if it changed."""
        from voiceclone_cli.prepare.sample import PreparedSample, decode_sample

        data = _read(self.sample_path, self)
        problem = self.record.mismatch(self.record.sample_name, data)
        if problem:
            raise _damaged(self.name, problem)
        voice = self.record.voice
        try:
            decoded = decode_sample(data, voice["format"])
            samples, rate = decoded.samples, decoded.rate
        except Exception as exc:  # the hash matched, so the file was stored like this
            raise _damaged(self.name, f"its sample cannot be decoded ({exc})") from None
        return PreparedSample(data, voice["filename"], voice["mime_type"], voice["format"],
                              len(samples) / rate, samples, rate, self.sample_path, [], saved=self)

    def to_dict(self) -> dict[str, Any]:
        voice = self.record.voice
        return {
            "name": self.name, "note": self.note, "seconds": round(self.seconds, 3),
            "engines": list(self.engines), "damaged": None, "source": voice["source"],
            "format": voice["format"], "added": voice["added"], "sha256": self.sha256,
            "profile_version": voice["profile_version"], "id": self.id, "folder": str(self.folder),
            "sample": str(self.sample_path),
            "profile": str(self.profile_path) if self.profile_path else None,
            "engine_states": {
                engine: {"identity": entry["identity"], "size": entry["size"], "file": str(self.folder / entry["file"])}
                for engine, entry in sorted(self.record.states.items())
            },
        }


@dataclass(frozen=True)
class DamagedVoice:
    """A folder that cannot be used; ``name`` falls back to the index's, then to the id."""

    id: str
    folder: Path
    name: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "damaged": self.reason, "id": self.id, "folder": str(self.folder)}


Entry = Union[StoredVoice, DamagedVoice]


@dataclass
class Stored:
    """What ``add`` and ``import_`` did: the voice, the voice it replaced, and what to tell."""

    voice: StoredVoice
    replaced: str | None = None
    notes: list[str] = field(default_factory=list)


def _damaged(name: str, reason: str) -> DamagedVoiceError:
    return DamagedVoiceError(f"voice {name!r} is damaged: {reason}",
                             hint=f"remove it with 'voiceclone voices rm {name}' and add it again")


def _read(path: Path, voice: StoredVoice) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _damaged(voice.name, f"{path.name} is missing") from None
    except OSError as exc:
        raise _damaged(voice.name, f"cannot read {path.name}: {exc.strerror}") from None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class VoiceLibrary:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else data_dir() / "voices"
        self._lock_depth = 0

    # -- reading ------------------------------------------------------------------------

    def list(self) -> list[Entry]:
        """Every voice, each file checked against its hash, sorted by name."""
        return sorted(self._entries(verify=True), key=lambda e: (name_key(e.name), e.id))

    def get(self, name: str) -> StoredVoice:
        """The voice called ``name`` (in any case), checked; an error names close matches."""
        entries = self._entries(verify=False)
        entry = self._find(name, entries)
        if isinstance(entry, StoredVoice):
            entry = self._verify(entry)
        if isinstance(entry, DamagedVoice):
            raise _damaged(entry.name, entry.reason)
        return entry

    def voice_names(self) -> list[str]:
        """Names only, from the index (no folder is read unless the index must be rebuilt)."""
        names = self._index()
        if names is None:
            if not self.directory.is_dir():
                return []
            names = {e.id: e.name for e in self._sync_index()}
        return sorted(names.values(), key=name_key)

    # -- changing -----------------------------------------------------------------------

    def add(self, name: str, sample: Path | str, *, force: bool = False, strict: bool = False,
            note: str = "", profile: bool = True) -> Stored:
        """Validate and fit ``sample`` as ``say`` does, and keep what would be uploaded."""
        from voiceclone_cli.prepare.sample import prepare_sample

        name = validate_name(name)
        self._check_free(name, force)
        prepared = prepare_sample(sample, strict=strict)
        voice = {
            "name": name, "note": " ".join(note.split()),  # one line in listings
            "source": Path(sample).name, "seconds": round(prepared.seconds, 3),
            "format": prepared.format, "filename": prepared.filename, "mime_type": prepared.mime_type,
            "added": _now(), "sha256": prepared.sha256, "profile_version": None,
        }
        notes = list(prepared.notes)
        analysed = self._profile_for(prepared, notes) if profile else None
        return self._store(voice, prepared.data, analysed, force=force, notes=notes)

    def import_(self, file: Path | str, *, name: str | None = None, force: bool = False,
                profile: bool = True) -> Stored:
        """Add the voice in an exported file, after checking everything in it (``archive``)."""
        from voiceclone_cli.voices.archive import read_archive

        file = Path(file)
        record, contents = read_archive(file)
        wanted = record.voice["name"] if name is None else name
        try:
            wanted = validate_name(wanted)
        except InputError as exc:
            if name is None:
                exc.hint = "give it a valid name with --name NAME"
            raise
        self._check_free(wanted, force)
        data = contents[record.sample_name]
        prepared = _recheck_sample(file, record, data)
        notes: list[str] = []
        kept = None
        if record.has_profile:
            npz, version = contents[PROFILE_NAME], record.voice["profile_version"]
            kept = (npz, version) if _profile_usable(npz, version, notes) else None
        if kept is None and profile:
            kept = self._profile_for(prepared, notes)
        # Engine states are kept as they are: each engine checks its own on the voice's first
        # use (made for its model, readable) and makes it again if not.
        states = {engine: (entry["identity"], entry["file"], contents[entry["file"]])
                  for engine, entry in record.states.items()}
        return self._store({**record.voice, "name": wanted}, data, kept, force=force, notes=notes,
                           states=states)

    def remove(self, names: Iterable[str]) -> list[str]:
        """Remove every named voice, or none if any name is unknown."""
        with self._locked():
            entries = self._scan(verify=False)
            doomed: dict[str, Entry] = {}
            for name in names:
                entry = self._find(name, entries)
                doomed[entry.id] = entry
            for entry in doomed.values():
                self._discard(entry.folder)
            self._write_index(e for e in entries if e.id not in doomed)
        return [e.name for e in doomed.values()]

    def rename(self, old: str, new: str) -> StoredVoice:
        new = validate_name(new)
        with self._locked():
            entries = self._scan(verify=False)
            entry = self._find(old, entries)
            if isinstance(entry, DamagedVoice):
                raise _damaged(entry.name, entry.reason)
            clash = self._match(new, entries)
            if clash is not None and clash.id != entry.id:
                raise VoiceExistsError(f"a voice named {clash.name!r} already exists",
                                       hint=f"remove it first with 'voiceclone voices rm {clash.name}', "
                                            "or choose another name")
            renamed = StoredVoice(entry.id, entry.folder, entry.record.with_voice(name=new))
            self._write_file(entry.folder / VOICE_FILE, renamed.record.to_json())
            self._write_index(renamed if e.id == entry.id else e for e in entries)
        return renamed

    def export(self, name: str, file: Path | str, *, force: bool = False) -> Path:
        """Write the voice as one portable file (``archive``), atomically."""
        from voiceclone_cli.output.atomic import atomic_open
        from voiceclone_cli.voices.archive import write_archive

        voice = self.get(name)
        target = Path(file)
        if target.is_dir():
            raise OutputError(f"{target} is a directory", hint="give a file name, e.g. voice.vcvoice")
        if (target.exists() or target.is_symlink()) and not force:
            raise OutputError(f"{target} already exists", hint="add --force to replace it")
        contents = {n: _read(voice.folder / n, voice) for n in voice.record.files}
        for n, data in contents.items():
            problem = voice.record.mismatch(n, data)
            if problem:
                raise _damaged(voice.name, problem)
        voice, states = _intact_states(voice)  # a state damaged since is left out, not fatal
        try:
            with atomic_open(target) as handle:
                write_archive(handle, voice.record, {**contents, **states})
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror}",
                              hint="check that the folder exists and is writable") from None
        return target

    def keep_engine_state(self, voice: StoredVoice, engine: str, identity: str, suffix: str,
                          data: bytes) -> bool:
        """Keep ``engine``'s state (``data``, made by ``identity``) with ``voice``, replacing
        any it kept before, so the voice never needs it computed again.

        Best effort, under the lock, each file replaced atomically (the state first, then
        ``voice.json`` naming it: a crash between them leaves a state that fails its hash and
        is made again). False, logged, when the voice was removed or replaced since it was
        read, or the library cannot be written (a read-only library costs only time).
        """
        from voiceclone_cli.voices.record import state_file_name

        file = state_file_name(engine, suffix)
        if file is None:
            log.debug("engine %r (state suffix %r): no file name for its voice state", engine, suffix)
            return False
        try:
            with self._locked():
                current = self._load(voice.folder, voice.name)
                if not isinstance(current, StoredVoice) or current.sha256 != voice.sha256:
                    return False
                before = current.record.states.get(engine)
                (voice.folder / STATE_DIR).mkdir(exist_ok=True)
                self._write_file(voice.folder / file, data)
                self._write_file(voice.folder / VOICE_FILE,
                                 current.record.with_state(engine, identity, file, data).to_json())
                if before is not None and before["file"] != file:
                    (voice.folder / before["file"]).unlink(missing_ok=True)
        except (OutputError, OSError) as exc:
            reason = exc.message if isinstance(exc, OutputError) else exc.strerror
            log.info("the %s voice state is not kept with voice %r (%s); it is made again on its next use",
                     engine, voice.name, reason)
            return False
        log.debug("kept the %s voice state with voice %r (%d bytes)", engine, voice.name, len(data))
        return True

    # -- internals ----------------------------------------------------------------------

    @staticmethod
    def _profile_for(prepared: PreparedSample, notes: list[str]) -> tuple[bytes, int] | None:
        """The local engine's profile and its version, when that engine is installed."""
        from voiceclone_cli.voices import profile

        if not profile.local_engine_installed():
            return None
        try:
            return profile.analyse(prepared), profile.current_version()
        except ValueError as exc:
            notes.append(f"no local voice profile: {exc}; the voice is ready for the remote engine only")
            return None

    def _store(self, voice: dict[str, Any], data: bytes, profile: tuple[bytes, int] | None, *,
               force: bool, notes: list[str], states: dict[str, tuple[str, str, bytes]] | None = None) -> Stored:
        """Build the folder under a hidden name, rename it into place, then index it.
        ``states``: engine name -> (identity, file name, bytes), kept as they are."""
        from voiceclone_cli.voices.profile import local_engine_installed, put_in_cache

        contents = {SAMPLE_NAMES[voice["format"]]: data}
        if profile is not None:
            contents[PROFILE_NAME] = profile[0]
        record = VoiceRecord.build({**voice, "profile_version": profile[1] if profile else None}, contents,
                                   states)
        files = {**contents, **{file: state for _, file, state in (states or {}).values()}}
        with self._locked():
            entries = self._scan(verify=False)
            replaced = self._check_free(voice["name"], force, entries)
            voice_id = secrets.token_hex(8)
            staging, folder = self.directory / (_NEW + voice_id), self.directory / voice_id
            try:
                staging.mkdir()
                if states:
                    (staging / STATE_DIR).mkdir()
                for name, content in [*files.items(), (VOICE_FILE, record.to_json())]:
                    self._write_file(staging / name, content)
                os.rename(staging, folder)
            except OSError as exc:
                raise OutputError(f"cannot write the voice library in {self.directory}: {exc.strerror}",
                                  hint=self._writable_hint()) from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            if replaced is not None:
                self._discard(replaced.folder)
            stored = StoredVoice(voice_id, folder, record)
            self._write_index([*(e for e in entries if e is not replaced), stored])
        if profile is not None and local_engine_installed():
            put_in_cache(record.voice["sha256"], profile[1], profile[0])
        return Stored(stored, replaced.name if replaced is not None else None, notes)

    def _check_free(self, name: str, force: bool, entries: list[Entry] | None = None) -> Entry | None:
        """The voice ``name`` would replace (with ``force``), or an error without it."""
        existing = self._match(name, self._entries(verify=False) if entries is None else entries)
        if existing is not None and not force:
            raise VoiceExistsError(f"a voice named {existing.name!r} already exists",
                                   hint="add --force to replace it, or choose another name")
        return existing

    def _find(self, name: str, entries: list[Entry]) -> Entry:
        entry = self._match(name, entries)
        if entry is not None:
            return entry
        names = [e.name for e in entries]
        if not names:
            hint = "the library is empty: add a voice with 'voiceclone voices add NAME SAMPLE'"
        else:
            near = closest(name, names)
            hint = ("did you mean " + " or ".join(repr(n) for n in near) + "? " if near else "") \
                + "see 'voiceclone voices list'"
        raise UnknownVoiceError(f"no voice named {name!r}", hint=hint)

    @staticmethod
    def _match(name: str, entries: list[Entry]) -> Entry | None:
        key = name_key(name)
        return next((e for e in entries if name_key(e.name) == key), None)

    def _entries(self, *, verify: bool) -> list[Entry]:
        """The folders as they are; the index is brought in step with them if it is not."""
        if not self.directory.is_dir():
            return []
        entries = self._scan(verify=verify)
        if self._index() != {e.id: e.name for e in entries}:
            self._sync_index()
        return entries

    def _scan(self, *, verify: bool) -> list[Entry]:
        index = self._index() or {}
        try:
            folders = sorted(p for p in self.directory.iterdir()
                             if not p.name.startswith(".") and p.is_dir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise InputError(f"cannot read the voice library {self.directory}: {exc.strerror}",
                             hint="check its permissions") from None
        entries = [self._load(folder, index.get(folder.name, folder.name)) for folder in folders]
        return [self._verify(e) if verify and isinstance(e, StoredVoice) else e for e in entries]

    @staticmethod
    def _load(folder: Path, fallback_name: str) -> Entry:
        try:
            raw = (folder / VOICE_FILE).read_bytes()
        except FileNotFoundError:
            return DamagedVoice(folder.name, folder, fallback_name, f"{VOICE_FILE} is missing")
        except OSError as exc:
            return DamagedVoice(folder.name, folder, fallback_name, f"cannot read {VOICE_FILE}: {exc.strerror}")
        try:
            return StoredVoice(folder.name, folder, VoiceRecord.from_json(raw))
        except RecordError as exc:
            return DamagedVoice(folder.name, folder, fallback_name, f"{VOICE_FILE} is damaged: {exc}")

    @staticmethod
    def _verify(voice: StoredVoice) -> Entry:
        for name in voice.record.files:
            try:
                data = (voice.folder / name).read_bytes()
            except FileNotFoundError:
                return DamagedVoice(voice.id, voice.folder, voice.name, f"{name} is missing")
            except OSError as exc:
                return DamagedVoice(voice.id, voice.folder, voice.name, f"cannot read {name}: {exc.strerror}")
            problem = voice.record.mismatch(name, data)
            if problem:
                return DamagedVoice(voice.id, voice.folder, voice.name, problem)
        return _intact_states(voice)[0]

    def _index(self) -> dict[str, str] | None:
        """id -> name from index.json, or None when it is missing or not one we wrote."""
        import json

        try:
            document = json.loads((self.directory / INDEX_FILE).read_text("utf-8"))
            voices = document["voices"] if document.get("format") == INDEX_FORMAT else None
            if isinstance(voices, dict) and all(isinstance(v, str) for v in voices.values()):
                return voices
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            pass
        return None

    def _sync_index(self) -> list[Entry]:
        """Rewrite the index from the folders, read again under the lock (another process
        may be adding a voice right now). Best effort: a read-only library still lists."""
        try:
            with self._locked():
                entries = self._scan(verify=False)
                self._write_index(entries)
                return entries
        except OutputError:
            return self._scan(verify=False)

    def _write_index(self, entries: Iterable[Entry]) -> None:
        import json

        document = {"format": INDEX_FORMAT, "version": 1, "voices": {e.id: e.name for e in entries}}
        self._write_file(self.directory / INDEX_FILE,
                         (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))

    def _write_file(self, path: Path, data: bytes) -> None:
        from voiceclone_cli.output.atomic import atomic_write_bytes

        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}", hint=self._writable_hint()) from None

    def _writable_hint(self) -> str:
        return f"check the permissions of {self.directory}, or set {DATA_DIR_ENV} to another folder"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive across processes; re-entrant within one (flock would block on itself)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise OutputError(f"cannot write the voice library in {self.directory}: {exc.strerror}",
                              hint=self._writable_hint()) from None
        try:
            _lock(fd)
            self._lock_depth = 1
            self._remove_leftovers()
            yield
        finally:
            self._lock_depth = 0
            os.close(fd)

    def _remove_leftovers(self) -> None:
        """Folders half built or half removed by a process that died: with the lock held,
        no live process can be working on one."""
        for path in self.directory.iterdir():
            if path.name.startswith((_NEW, _OLD)) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)

    def _discard(self, folder: Path) -> None:
        """Out of the listing at once (one rename), then deleted."""
        hidden = folder.with_name(_OLD + folder.name)
        try:
            os.rename(folder, hidden)
        except OSError as exc:
            raise OutputError(f"cannot remove {folder}: {exc.strerror}", hint=self._writable_hint()) from None
        shutil.rmtree(hidden, ignore_errors=True)


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _recheck_sample(file: Path, record: VoiceRecord, data: bytes) -> PreparedSample:
    """Run the sample through ``prepare_sample`` as strictly as ``say --strict-sample``:
    it must pass unchanged, or the file was not made by ``voices export``."""
    import tempfile

    from voiceclone_cli.prepare.sample import prepare_sample

    with tempfile.TemporaryDirectory(prefix="voiceclone-import-") as folder:
        path = Path(folder) / record.sample_name
        path.write_bytes(data)
        try:
            prepared = prepare_sample(path, strict=True)
        except SampleError as exc:
            raise SampleError(f"the sample in {file.name} is refused: {exc.message}",
                              hint="export the voice again from a working library") from None
        prepared.source = file
    if prepared.data != data or prepared.format != record.voice["format"]:
        raise SampleError(f"the sample in {file.name} is not a prepared sample",
                          hint="export the voice again from a working library")
    return prepared


def _intact_states(voice: StoredVoice) -> tuple[StoredVoice, dict[str, bytes]]:
    """The voice without the engine states whose file is missing or fails its hash (they are
    made again on use), and the intact states' contents by file name."""
    record, contents = voice.record, {}
    for engine, entry in voice.record.states.items():
        data, problem = voice.state_file(entry)
        if problem:
            log.debug("voice %r: the %s state is left out (%s)", voice.name, engine, problem)
            record = record.without_state(engine)
        else:
            contents[entry["file"]] = data
    return StoredVoice(voice.id, voice.folder, record), contents


def _profile_usable(npz: bytes, version: int, notes: list[str]) -> bool:
    """Whether an imported profile can be kept as it is (or must be analysed again)."""
    from voiceclone_cli.voices import profile

    if not profile.local_engine_installed():
        return True  # kept for export; checked when a local engine reads it
    if version != profile.current_version():
        notes.append(f"the voice profile is from another version of the local engine ({version}); analysing again")
        return False
    try:
        profile.check(npz)
    except ValueError as exc:
        notes.append(f"the voice profile cannot be used ({exc}); analysing again")
        return False
    return True


def saved_voice_at(sample_path: Path) -> StoredVoice | None:
    """The saved voice whose stored sample ``sample_path`` is, or None (any other file): for
    callers handed a saved voice's sample path rather than its name."""
    folder = Path(sample_path).parent
    if not (folder / VOICE_FILE).is_file():
        return None
    entry = VoiceLibrary._load(folder, folder.name)
    if isinstance(entry, StoredVoice) and entry.sample_path == Path(sample_path):
        return entry
    return None


def voice_names(directory: Path | None = None) -> list[str]:
    """The names in the library, for shell completion: cheap, no audio library imported."""
    return VoiceLibrary(directory).voice_names()
