"""The voice library: add once, use by name; storage that survives races, damage and bad files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BIN, voice
from tests import samples
from voiceclone_cli.prepare.sample import prepare_sample

OTHER = "p227/p227_023.wav"


def data_voices() -> Path:
    return Path(os.environ["VOICECLONE_DATA_DIR"]) / "voices"


def listed(cli) -> list[dict]:
    r = cli(["voices", "list", "--json"])
    assert r.code == 0, r.stderr
    return json.loads(r.out)


def add(cli, name, sample, *extra):
    r = cli(["voices", "add", name, sample, "--no-profile", *extra])
    assert r.code == 0, r.stderr
    return r


def folder_of(cli, name) -> Path:
    r = cli(["voices", "show", name, "--json"])
    assert r.code == 0, r.stderr
    return Path(json.loads(r.out)["folder"])


# -- round trips -------------------------------------------------------------------------


def test_add_list_show_rename_rm(cli, sample_wav):
    r = add(cli, "Ana", sample_wav, "--note", "studio\nmic")  # kept on one line
    assert "added voice 'Ana'" in r.stderr and "ready for remote" in r.stderr
    assert listed(cli) == [{"name": "Ana", "seconds": pytest.approx(9.42, abs=0.01), "engines": ["remote"],
                            "note": "studio mic", "damaged": None}]
    shown = json.loads(cli(["voices", "show", "ana", "--json"]).out)  # any letter case
    prepared = prepare_sample(sample_wav)
    assert shown["name"] == "Ana" and shown["source"] == sample_wav.name and shown["format"] == "WAV"
    assert shown["sha256"] == prepared.sha256 and shown["added"].endswith("Z")
    assert Path(shown["sample"]).read_bytes() == prepared.data
    assert Path(shown["folder"]).parent == data_voices()

    human = cli(["voices", "list"])
    assert human.code == 0 and "Ana" in human.out and "studio mic" in human.out

    assert cli(["voices", "rename", "ANA", "Bea"]).code == 0
    assert [v["name"] for v in listed(cli)] == ["Bea"]
    assert cli(["voices", "rename", "bea", "bea"]).code == 0  # only the case changes
    assert [v["name"] for v in listed(cli)] == ["bea"]

    r = cli(["voices", "rm", "BEA"])
    assert r.code == 0 and "removed voice 'bea'" in r.stderr
    assert listed(cli) == []
    assert [p.name for p in data_voices().iterdir() if not p.name.startswith(".")] == ["index.json"]


def test_stored_voice_gives_exactly_the_prepared_sample(cli, sample_wav):
    from voiceclone_cli.voices import VoiceLibrary

    add(cli, "ana", sample_wav)
    stored = VoiceLibrary().get("Ana")
    original = prepare_sample(sample_wav)
    again = stored.prepared_sample()
    assert again.data == original.data and again.sha256 == original.sha256
    assert (again.filename, again.mime_type, again.format, again.rate) == \
           (original.filename, original.mime_type, original.format, original.rate)
    assert again.samples.tobytes() == original.samples.tobytes()
    assert again.source == stored.sample_path and again.source.parent == stored.folder


def test_a_fitted_sample_is_stored_fitted_and_the_notes_are_shown(cli, tmp_path):
    path, seconds = samples.long_speech(tmp_path)
    r = add(cli, "long", path)
    assert f"voiceclone: sample trimmed from {seconds:.1f} s" in r.stderr
    stored = json.loads(cli(["voices", "show", "long", "--json"]).out)
    assert stored["seconds"] <= 29.5
    assert Path(stored["sample"]).read_bytes() == prepare_sample(path).data
    r = cli(["voices", "add", "strict", path, "--strict-sample", "--no-profile"])
    assert r.code == 3 and "drop --strict-sample" in r.stderr


def test_export_then_import_into_an_empty_library(cli, sample_wav, tmp_path, monkeypatch):
    add(cli, "Ana", sample_wav, "--note", "first take")
    before = json.loads(cli(["voices", "show", "Ana", "--json"]).out)
    exported = tmp_path / "ana.vcvoice"
    r = cli(["voices", "export", "ana", exported])
    assert r.code == 0 and exported.is_file()

    monkeypatch.setenv("VOICECLONE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert listed(cli) == []
    r = cli(["voices", "import", exported, "--no-profile", "--json"])
    assert r.code == 0, r.stderr
    after = json.loads(r.out)
    assert Path(after["sample"]).read_bytes() == Path(before["sample"]).read_bytes()
    different = {"id", "folder", "sample", "profile"}
    assert {k: v for k, v in after.items() if k not in different} == \
           {k: v for k, v in before.items() if k not in different}
    r = cli(["voices", "import", exported, "--name", "Ana-copy", "--no-profile"])
    assert r.code == 0 and [v["name"] for v in listed(cli)] == ["Ana", "Ana-copy"]


def test_export_refuses_to_overwrite_without_force(cli, sample_wav, tmp_path):
    add(cli, "ana", sample_wav)
    target = tmp_path / "ana.vcvoice"
    target.write_bytes(b"precious")
    r = cli(["voices", "export", "ana", target])
    assert r.code == 7 and "already exists" in r.stderr and "--force" in r.stderr
    assert target.read_bytes() == b"precious"
    assert cli(["voices", "export", "ana", target, "--force"]).code == 0
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["ana.vcvoice"]  # no temp file left
    r = cli(["voices", "export", "ana", tmp_path / "missing" / "ana.vcvoice"])
    assert r.code == 7 and "cannot write" in r.stderr
    r = cli(["voices", "export", "ana", tmp_path])
    assert r.code == 7 and "is a directory" in r.stderr


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["short", "silent", "corrupt", "text", "missing", "directory"])
def test_bad_samples_are_refused_as_say_refuses_them(cli, api_env, tmp_path, variant):
    if variant == "text":
        path = tmp_path / "notes.wav"
        path.write_text("just some words\n" * 5)
    elif variant == "missing":
        path = tmp_path / "missing.wav"
    elif variant == "directory":
        path = tmp_path / "folder.wav"
        path.mkdir()
    else:
        path = getattr(samples, variant)(tmp_path)
    said = cli(["say", "-s", path, "Hello.", "-o", tmp_path / "o.wav"])
    added = cli(["voices", "add", "ana", path])
    assert said.code == added.code == 3
    def same(text):  # a decoder's message may hold an object's address
        return re.sub(r"0x[0-9a-f]+", "0x", text)

    assert same(added.stderr) == same(said.stderr) and added.stderr.count("\n") == 1
    assert listed(cli) == []


@pytest.mark.parametrize("name", ["Ана", "名前", "अनीता", "José.2", "a_b-c", "x" * 40])
def test_names_of_any_script_are_accepted(cli, sample_wav, name):
    add(cli, name, sample_wav)
    assert [v["name"] for v in listed(cli)] == [name]
    assert cli(["voices", "show", name]).code == 0


@pytest.mark.parametrize("name, problem", [
    ("a/b", "cannot contain '/'"), ("..", "cannot start with '.'"), (".hidden", "cannot start with '.'"),
    ("-x", "cannot start with '-'"), ("x" * 41, "41 characters long"), ("", "cannot be empty"),
    ("two words", "cannot contain ' '"), ("a:b", "cannot contain ':'"),
])
def test_bad_names_are_refused(cli, sample_wav, name, problem):
    r = cli(["voices", "add", "--no-profile", "--", name, sample_wav])
    assert r.code == 3 and problem in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1
    assert listed(cli) == []


def test_names_clash_ignoring_case_unless_forced(cli, sample_wav):
    add(cli, "Ana", sample_wav)
    r = cli(["voices", "add", "ana", voice(OTHER), "--no-profile"])
    assert r.code == 3 and "a voice named 'Ana' already exists" in r.stderr and "--force" in r.stderr
    r = add(cli, "ana", voice(OTHER), "--force")
    assert "replacing 'Ana'" in r.stderr
    assert [v["name"] for v in listed(cli)] == ["ana"]
    assert json.loads(cli(["voices", "show", "ana", "--json"]).out)["source"] == Path(OTHER).name
    add(cli, "bob", sample_wav)
    r = cli(["voices", "rename", "bob", "ANA"])
    assert r.code == 3 and "already exists" in r.stderr
    assert sorted(v["name"] for v in listed(cli)) == ["ana", "bob"]


def test_unknown_names_suggest_the_closest(cli, sample_wav):
    r = cli(["voices", "show", "anna"])
    assert r.code == 3 and "no voice named 'anna'" in r.stderr and "voices add" in r.stderr
    add(cli, "Anna", sample_wav)
    add(cli, "Bernard", sample_wav)
    for args in (["show", "Ana"], ["play", "Ana"], ["export", "Ana", "x.zip"], ["rename", "Ana", "b"]):
        r = cli(["voices", *args])
        assert r.code == 3 and "no voice named 'Ana'" in r.stderr and "did you mean 'Anna'" in r.stderr
        assert "Bernard" not in r.stderr
    r = cli(["voices", "rm", "Anna", "Bernrad"])
    assert r.code == 3 and "no voice named 'Bernrad'" in r.stderr and "'Bernard'" in r.stderr
    assert [v["name"] for v in listed(cli)] == ["Anna", "Bernard"]  # nothing removed


# -- playing -----------------------------------------------------------------------------


def test_play_sends_the_stored_sample_to_the_player(cli, sample_wav, monkeypatch):
    import voiceclone_cli.output.players as players
    from tests.test_streaming import RecordingBackend

    add(cli, "ana", sample_wav)
    recorder = RecordingBackend()
    monkeypatch.setattr(players, "_backends", lambda: [recorder])
    r = cli(["voices", "play", "ANA"])
    assert r.code == 0, r.stderr
    prepared = prepare_sample(sample_wav)
    assert recorder.rate == prepared.rate and recorder.finished
    assert len(recorder.pcm) == 2 * len(prepared.samples)

    monkeypatch.setattr(players, "_backends", lambda: [RecordingBackend(fail_probe=True)])
    r = cli(["voices", "play", "ana"])
    assert r.code == 9 and "no output device" in r.stderr


# -- concurrency -------------------------------------------------------------------------


def test_two_processes_adding_at_once_both_keep_their_voice(sample_wav, tmp_path):
    other = voice(OTHER)
    for attempt in range(3):
        names = [f"first-{attempt}", f"second-{attempt}"]
        procs = [subprocess.Popen([BIN, "voices", "add", name, sample, "--no-profile"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name, sample in zip(names, [sample_wav, other])]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    out = subprocess.run([BIN, "voices", "list", "--names"], capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == sorted(f"{kind}-{n}" for kind in ("first", "second") for n in range(3))
    index = json.loads((data_voices() / "index.json").read_text())
    assert len(index["voices"]) == 6


# -- damage ------------------------------------------------------------------------------


def _damage(folder: Path, kind: str) -> str:
    if kind == "sample missing":
        (folder / "sample.wav").unlink()
        return "sample.wav is missing"
    if kind == "sample changed":
        data = bytearray((folder / "sample.wav").read_bytes())
        data[-1] ^= 0xFF
        (folder / "sample.wav").write_bytes(bytes(data))
        return "sample.wav does not match its recorded SHA-256"
    if kind == "bad json":
        (folder / "voice.json").write_text("{not json")
        return "voice.json is damaged: not valid JSON"
    (folder / "voice.json").unlink()
    return "voice.json is missing"


@pytest.mark.parametrize("kind", ["sample missing", "sample changed", "bad json", "no voice.json"])
def test_a_damaged_voice_is_reported_and_spares_the_others(cli, sample_wav, tmp_path, kind):
    add(cli, "good", sample_wav)
    add(cli, "broken", voice(OTHER))
    reason = _damage(folder_of(cli, "broken"), kind)

    entries = {v["name"]: v for v in listed(cli)}
    assert entries["good"]["damaged"] is None
    assert reason in entries["broken"]["damaged"]
    r = cli(["voices", "list"])
    assert r.code == 0 and "DAMAGED" in r.out and reason in r.out

    r = cli(["voices", "show", "broken"])
    assert r.code == 3 and "voice 'broken' is damaged" in r.stderr and "voices rm broken" in r.stderr
    for args in (["show", "good"], ["export", "good", tmp_path / "good.zip"], ["rename", "good", "fine"]):
        assert cli(["voices", *args]).code == 0
    add(cli, "new", sample_wav)
    assert cli(["voices", "rm", "broken"]).code == 0
    assert sorted(v["name"] for v in listed(cli)) == ["fine", "new"]


@pytest.mark.parametrize("damage", ["garbage", "missing", "stale"])
def test_a_damaged_or_missing_index_is_rebuilt(cli, sample_wav, damage):
    add(cli, "ana", sample_wav)
    add(cli, "bob", sample_wav)
    index = data_voices() / "index.json"
    if damage == "garbage":
        index.write_bytes(b"\x00garbage")
    elif damage == "missing":
        index.unlink()
    else:
        document = json.loads(index.read_text())
        document["voices"] = {}
        index.write_text(json.dumps(document))
    if damage != "stale":  # a stale index is caught when the folders are read
        r = cli(["voices", "list", "--names"])
        assert r.code == 0 and r.out.split() == ["ana", "bob"]
    assert sorted(v["name"] for v in listed(cli)) == ["ana", "bob"]
    assert sorted(json.loads(index.read_text())["voices"].values()) == ["ana", "bob"]


# -- import refusals ---------------------------------------------------------------------


@pytest.fixture
def exported(cli, sample_wav, tmp_path) -> Path:
    add(cli, "ana", sample_wav)
    path = tmp_path / "ana.vcvoice"
    assert cli(["voices", "export", "ana", path]).code == 0
    assert cli(["voices", "rm", "ana"]).code == 0
    return path


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of an exported file with its members passed through ``change(name, data)``."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            for name, data in change(info.filename, zin.read(info)):
                zout.writestr(name, data)
    return target


def _manifest_edit(**changes):
    def change(name, data):
        if name == "manifest.json":
            document = json.loads(data)
            document.update(changes)
            data = json.dumps(document).encode()
        yield name, data
    return change


@pytest.mark.parametrize("case, message", [
    ("not a zip", "not a voiceclone voice file, or it is truncated"),
    ("truncated", "truncated"),
    ("foreign zip", "unexpected member 'readme.txt'"),
    ("foreign manifest", "format is 'something-else'"),
    ("newer version", "made by a newer voiceclone"),
    ("traversal", "unsafe path ('../evil.wav')"),
    ("absolute", "unsafe path ('/tmp/evil.wav')"),
    ("zip bomb", "unpacks to more than"),
    ("tampered sample", "sample.wav does not match its recorded SHA-256"),
    ("missing sample", "lacks 'sample.wav'"),
])
def test_bad_voice_files_are_refused(cli, exported, tmp_path, case, message):
    bad = tmp_path / "bad.vcvoice"
    if case == "not a zip":
        bad.write_text("hello\n")
    elif case == "truncated":
        bad.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    elif case == "foreign zip":
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("readme.txt", "hi")
    elif case == "foreign manifest":
        _rewrite(exported, bad, _manifest_edit(format="something-else"))
    elif case == "newer version":
        _rewrite(exported, bad, _manifest_edit(version=2))
    elif case in ("traversal", "absolute"):
        evil = "../evil.wav" if case == "traversal" else "/tmp/evil.wav"
        _rewrite(exported, bad, lambda name, data: [(name, data), (evil, b"x")] if name == "sample.wav" else [(name, data)])
    elif case == "zip bomb":
        _rewrite(exported, bad, lambda name, data: [(name, b"\0" * 50_000_000 if name == "sample.wav" else data)])
    elif case == "tampered sample":
        _rewrite(exported, bad, lambda name, data: [(name, data[:-1] + bytes([data[-1] ^ 1]) if name == "sample.wav" else data)])
    else:
        _rewrite(exported, bad, lambda name, data: [] if name == "sample.wav" else [(name, data)])
    r = cli(["voices", "import", bad, "--no-profile"])
    assert r.code == 3, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert listed(cli) == []
    assert not (tmp_path.parent / "evil.wav").exists()


def test_an_imported_sample_is_checked_again(cli, exported, tmp_path):
    """A file whose hashes are right but whose sample 'say' would refuse is still refused."""
    import hashlib

    short = samples.short(tmp_path).read_bytes()
    digest = hashlib.sha256(short).hexdigest()

    def change(name, data):
        if name == "sample.wav":
            yield name, short
        elif name == "manifest.json":
            document = json.loads(data)
            document["voice"]["sha256"] = digest
            document["files"]["sample.wav"] = {"sha256": digest, "size": len(short)}
            yield name, json.dumps(document).encode()
        else:
            yield name, data

    r = cli(["voices", "import", _rewrite(exported, tmp_path / "short.vcvoice", change), "--no-profile"])
    assert r.code == 3 and "the sample in short.vcvoice is refused" in r.stderr and "at least 5 s" in r.stderr
    assert listed(cli) == []


def test_an_invalid_name_in_a_voice_file_asks_for_name(cli, exported, tmp_path):
    def change(name, data):
        if name == "manifest.json":
            document = json.loads(data)
            document["voice"]["name"] = "../../etc"
            data = json.dumps(document).encode()
        yield name, data

    bad = _rewrite(exported, tmp_path / "odd.vcvoice", change)
    r = cli(["voices", "import", bad, "--no-profile"])
    assert r.code == 3 and "--name" in r.stderr
    assert cli(["voices", "import", bad, "--no-profile", "--name", "fixed"]).code == 0
    assert [v["name"] for v in listed(cli)] == ["fixed"]


# -- the local engine's profile ----------------------------------------------------------


def test_the_profile_is_stored_and_put_in_the_cache(cli, sample_wav, tmp_path, monkeypatch):
    pytest.importorskip("piper")
    from voiceclone_cli.engines.local.engine import LocalEngine
    from voiceclone_cli.engines.local.profile import PROFILE_VERSION
    from voiceclone_cli.engines.local.profile_cache import ProfileCache

    r = cli(["voices", "add", "ana", sample_wav])
    assert r.code == 0 and "ready for remote, local" in r.stderr, r.stderr
    shown = json.loads(cli(["voices", "show", "ana", "--json"]).out)
    assert shown["engines"] == ["remote", "local"] and Path(shown["profile"]).is_file()
    cached = ProfileCache().path_for(f"{shown['sha256'][:40]}-v{PROFILE_VERSION}")
    assert cached.is_file()
    # what --local will look up: found in the cache, no analysis
    assert LocalEngine().prepare_voice(prepare_sample(sample_wav)).from_cache

    exported = tmp_path / "ana.vcvoice"
    assert cli(["voices", "export", "ana", exported]).code == 0
    assert "profile.npz" in zipfile.ZipFile(exported).namelist()
    cached.unlink()
    monkeypatch.setenv("VOICECLONE_DATA_DIR", str(tmp_path / "elsewhere"))

    def no_analysis(*args, **kwargs):
        raise AssertionError("the imported profile must be used as it is")

    monkeypatch.setattr("voiceclone_cli.engines.local.profile.analyze_sample", no_analysis)
    r = cli(["voices", "import", exported])
    assert r.code == 0 and "ready for remote, local" in r.stderr, r.stderr
    assert cached.is_file()
    assert LocalEngine().prepare_voice(prepare_sample(sample_wav)).from_cache


def test_no_profile_skips_the_analysis(cli, sample_wav):
    pytest.importorskip("piper")
    from voiceclone_cli.engines.local.profile_cache import ProfileCache

    add(cli, "ana", sample_wav)
    assert listed(cli)[0]["engines"] == ["remote"]
    assert not ProfileCache().directory.exists() or not any(ProfileCache().directory.iterdir())


# -- completion --------------------------------------------------------------------------


def test_names_listing_stays_light(cli, sample_wav):
    add(cli, "ana", sample_wav)
    code = (
        "import sys; from voiceclone_cli.cli import main\n"
        "main(['voices', 'list', '--names'])\n"
        "heavy = [m for m in ('numpy', 'httpx', 'soundfile', 'av', 'soxr') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["ana", "HEAVY:"]


def test_bash_completes_voice_names(cli, sample_wav, monkeypatch):
    from tests.test_completions import bash_complete

    add(cli, "Anna", sample_wav)
    add(cli, "Bernard", sample_wav)
    monkeypatch.setenv("PATH", f"{BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert bash_complete(["voiceclone", "voices", "rm", "''"]) == ["Anna", "Bernard"]
    assert bash_complete(["voiceclone", "voices", "show", "B"]) == ["Bernard"]
    assert bash_complete(["voiceclone", "voices", "export", "A"]) == ["Anna"]
    assert "Anna" not in bash_complete(["voiceclone", "voices", "export", "Anna", "''"])
    assert "--names" not in bash_complete(["voiceclone", "voices", "list", "--"])


# -- engine voice states (any engine; pocket's own are in test_pocket_voices) -------------


class StatefulEngine:
    """The smallest engine that keeps a voice state: the state is the sample's hash, reversed."""

    name = "tone"
    voice_state_suffix = ".bin"

    def __init__(self, identity: str = "tone-model-1") -> None:
        self.voice_state_identity = identity
        self.prepared = 0
        self.imported = 0

    def prepare_voice(self, sample):
        self.prepared += 1
        return sample.sha256[::-1]

    def export_voice_state(self, voice) -> bytes:
        return voice.encode()

    def import_voice_state(self, sample, data: bytes):
        if data.decode() != sample.sha256[::-1]:
            raise ValueError("not this voice's state")
        self.imported += 1
        return data.decode()


def test_any_engine_keeps_its_state_with_a_saved_voice(cli, sample_wav, tmp_path, monkeypatch):
    from voiceclone_cli.voices import VoiceLibrary
    from voiceclone_cli.voices.states import prepare_voice

    add(cli, "ana", sample_wav)
    engine = StatefulEngine()
    sample = VoiceLibrary().get("ana").prepared_sample()
    assert prepare_voice(engine, sample) == sample.sha256[::-1] and engine.prepared == 1
    folder = folder_of(cli, "ana")
    assert (folder / "engines" / "tone.bin").read_bytes() == sample.sha256[::-1].encode()
    assert listed(cli)[0]["engines"] == ["remote", "tone"]

    again = VoiceLibrary().get("ana").prepared_sample()
    assert prepare_voice(engine, again) == sample.sha256[::-1]
    assert (engine.prepared, engine.imported) == (1, 1)
    # a file sample is never a saved voice, even with the same bytes
    assert prepare_voice(engine, prepare_sample(sample_wav)) and engine.prepared == 2
    # another model: made again and replaced
    other = StatefulEngine("tone-model-2")
    prepare_voice(other, VoiceLibrary().get("ana").prepared_sample())
    assert other.prepared == 1
    shown = json.loads(cli(["voices", "show", "ana", "--json"]).out)
    assert shown["engine_states"]["tone"]["identity"] == "tone-model-2"

    exported = tmp_path / "ana.vcvoice"
    assert cli(["voices", "export", "ana", exported]).code == 0
    monkeypatch.setenv("VOICECLONE_DATA_DIR", str(tmp_path / "elsewhere"))
    r = cli(["voices", "import", exported, "--no-profile"])
    assert r.code == 0 and "ready for remote, tone" in r.stderr, r.stderr
    prepare_voice(other, VoiceLibrary().get("ana").prepared_sample())
    assert (other.prepared, other.imported) == (1, 1)


def test_an_engine_without_the_hooks_or_a_usable_name_keeps_nothing(cli, sample_wav):
    from voiceclone_cli.voices import VoiceLibrary
    from voiceclone_cli.voices.states import prepare_voice

    add(cli, "ana", sample_wav)
    plain = StatefulEngine()
    plain.voice_state_identity = None  # e.g. pocket without weights (a dry run)
    odd = StatefulEngine()
    odd.name = "../Tone"
    for engine in (plain, odd):
        prepare_voice(engine, VoiceLibrary().get("ana").prepared_sample())
    assert listed(cli)[0]["engines"] == ["remote"]
    assert not (folder_of(cli, "ana") / "engines").exists()


def test_a_bad_engine_states_entry_never_damages_the_voice(cli, sample_wav):
    from voiceclone_cli.voices import VoiceLibrary
    from voiceclone_cli.voices.record import VoiceRecord

    add(cli, "ana", sample_wav)
    folder = folder_of(cli, "ana")
    document = json.loads((folder / "voice.json").read_text())
    document["engine_states"] = {
        "tone": {"identity": "x", "file": "../../evil.bin", "sha256": "0" * 64, "size": 1},
        "other": {"identity": "x", "file": "engines/tone.bin", "sha256": "0" * 64, "size": 1},
        "pocket": "not a mapping",
        "fine": {"identity": "x", "file": "engines/fine.bin", "sha256": "0" * 64, "size": 1},
    }
    (folder / "voice.json").write_text(json.dumps(document))
    assert listed(cli)[0]["damaged"] is None
    assert listed(cli)[0]["engines"] == ["remote"]  # "fine" names a file that is not there
    assert VoiceLibrary().get("ana").record.states == {}
    assert VoiceRecord.from_json((folder / "voice.json").read_bytes()).states.keys() == {"fine"}


@pytest.mark.parametrize("case, message", [
    ("unlisted state", "holds 'engines/tone.bin', which its manifest does not list"),
    ("missing state", "lacks 'engines/tone.bin', which its manifest lists"),
    ("tampered state", "engines/tone.bin does not match its recorded SHA-256"),
    ("state bomb", "unpacks to more than"),
    ("state traversal", "unsafe path ('engines/../sample.wav')"),
    ("foreign state name", "unexpected member 'engines/tone.sh.bak'"),
])
def test_bad_engine_states_in_voice_files_are_refused(cli, sample_wav, tmp_path, case, message):
    from voiceclone_cli.voices import VoiceLibrary
    from voiceclone_cli.voices.states import prepare_voice

    add(cli, "ana", sample_wav)
    prepare_voice(StatefulEngine(), VoiceLibrary().get("ana").prepared_sample())
    good = tmp_path / "ana.vcvoice"
    assert cli(["voices", "export", "ana", good]).code == 0
    assert cli(["voices", "rm", "ana"]).code == 0
    state = "engines/tone.bin"

    def change(name, data):
        if case == "unlisted state" and name == "manifest.json":
            document = json.loads(data)
            del document["engine_states"]
            data = json.dumps(document).encode()
        elif name == state and case == "missing state":
            return
        elif name == state and case == "tampered state":
            data = data[::-1]
        elif name == state and case == "state bomb":
            data = b"\0" * 70_000_000
        elif name == state and case == "state traversal":
            name = "engines/../sample.wav"
        elif name == state and case == "foreign state name":
            name = "engines/tone.sh.bak"
        yield name, data

    bad = _rewrite(good, tmp_path / "bad.vcvoice", change)
    r = cli(["voices", "import", bad, "--no-profile"])
    assert r.code == 3, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert listed(cli) == []
