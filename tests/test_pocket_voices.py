"""A saved voice keeps the pocket engine's voice state: the sample is encoded once, ever.

Everything runs the real pocket engine on the tiny random model of ``test_pocket`` through the
CLI. Encodings are counted at the engine's one encoding call, so "no encoding" means the voice
state really came from the voice's folder, never from a cache left warm by an earlier step
(each step that must not encode runs with a fresh, empty cache directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import read_audio, voice
from tests.test_pocket import build_tiny_model, needs_extra

pytestmark = needs_extra

STATE = "engines/pocket.safetensors"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("pocket-voices") / "model")


@pytest.fixture
def pocket(tiny_model, tmp_path, monkeypatch):
    """The tiny model as a copied folder, no hub, and a counter of sample encodings."""
    from voiceclone_cli.engines.pocket.engine import PocketEngine

    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(tiny_model))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    encodings: list[str] = []
    encode = PocketEngine._encode

    def counting(model, sample):
        encodings.append(sample.sha256)
        return encode(model, sample)

    monkeypatch.setattr(PocketEngine, "_encode", staticmethod(counting))
    return encodings


def fresh_cache(monkeypatch, tmp_path: Path, name: str) -> Path:
    """An empty cache directory: no pocket voice cache, no cached answers."""
    folder = tmp_path / name
    monkeypatch.setenv("VOICECLONE_CACHE_DIR", str(folder))
    return folder


def say(cli, out: Path, *extra) -> str:
    r = cli(["say", "--engine", "pocket", "--voice", "me", "Hello there.", "-o", out, *extra])
    assert r.code == 0, r.stderr
    return r.stderr


def add_me(cli) -> Path:
    r = cli(["voices", "add", "me", voice("p225/p225_023.wav"), "--no-profile"])
    assert r.code == 0, r.stderr
    return Path(json.loads(cli(["voices", "show", "me", "--json"]).out)["folder"])


def record(folder: Path) -> dict:
    return json.loads((folder / "voice.json").read_text())


def current_identity(tiny_model) -> str:
    from voiceclone_cli.engines.pocket.engine import PocketEngine
    from voiceclone_cli.engines.pocket.weights import from_folder

    return PocketEngine(from_folder(tiny_model)).voice_state_identity


def test_first_use_keeps_the_state_and_later_uses_never_encode(cli, pocket, tiny_model, tmp_path, monkeypatch):
    folder = add_me(cli)
    before = record(folder)
    assert "engine_states" not in before and not (folder / "engines").exists()

    say(cli, tmp_path / "first.wav")
    assert len(pocket) == 1
    after = record(folder)
    kept = after["engine_states"]["pocket"]
    assert kept["identity"] == current_identity(tiny_model) and kept["file"] == STATE
    assert (folder / STATE).stat().st_size == kept["size"]
    # Still readable by a voiceclone that predates engine states: same version, same files.
    assert after["version"] == before["version"] == 1 and after["files"] == before["files"]
    # It is pocket-tts's own state file, read by pocket-tts's own reader.
    from pocket_tts.models.model_state import _import_model_state

    assert "transformer.layers.0.self_attn" in _import_model_state(folder / STATE, "cpu")

    listed = json.loads(cli(["voices", "list", "--json"]).out)
    assert listed[0]["engines"] == ["remote", "pocket"]
    shown = json.loads(cli(["voices", "show", "me", "--json"]).out)
    assert shown["engine_states"] == {"pocket": {"identity": kept["identity"], "size": kept["size"],
                                                 "file": str(folder / STATE)}}
    assert "pocket" in cli(["voices", "show", "me"]).out.split("engine_states")[1]

    fresh_cache(monkeypatch, tmp_path, "empty-cache")
    say(cli, tmp_path / "second.wav")
    assert len(pocket) == 1  # the kept state, not a second encoding
    first, rate = read_audio(tmp_path / "first.wav")
    second, _ = read_audio(tmp_path / "second.wav")
    assert rate == 24000 and len(first) == len(second)
    np.testing.assert_allclose(first, second, atol=1e-3)  # the same voice as the fresh encoding
    assert record(folder) == after  # used as it is, not written again


def test_export_and_import_carry_the_state(cli, pocket, tmp_path, monkeypatch):
    folder = add_me(cli)
    say(cli, tmp_path / "here.wav")
    exported = tmp_path / "me.vcvoice"
    assert cli(["voices", "export", "me", exported]).code == 0
    with zipfile.ZipFile(exported) as archive:
        assert sorted(archive.namelist()) == [STATE, "manifest.json", "sample.wav"]
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read(STATE) == (folder / STATE).read_bytes()
    assert manifest["version"] == 1 and manifest["engine_states"] == record(folder)["engine_states"]

    monkeypatch.setenv("VOICECLONE_DATA_DIR", str(tmp_path / "other-machine"))
    fresh_cache(monkeypatch, tmp_path, "other-cache")
    r = cli(["voices", "import", exported, "--no-profile"])
    assert r.code == 0 and "ready for remote, pocket" in r.stderr, r.stderr
    say(cli, tmp_path / "there.wav")
    assert len(pocket) == 1  # only the first machine's encoding
    np.testing.assert_allclose(read_audio(tmp_path / "here.wav")[0], read_audio(tmp_path / "there.wav")[0], atol=1e-3)


def test_a_state_from_another_model_is_made_again_and_replaced(cli, pocket, tiny_model, tmp_path, monkeypatch):
    folder = add_me(cli)
    say(cli, tmp_path / "a.wav")
    document = record(folder)
    document["engine_states"]["pocket"]["identity"] = "another-model-v1"
    (folder / "voice.json").write_text(json.dumps(document))
    assert json.loads(cli(["voices", "list", "--json"]).out)[0]["engines"] == ["remote", "pocket"]

    fresh_cache(monkeypatch, tmp_path, "empty-cache")
    stderr = say(cli, tmp_path / "b.wav")
    assert len(pocket) == 2 and "made for another model" in stderr
    assert record(folder)["engine_states"]["pocket"]["identity"] == current_identity(tiny_model)
    fresh_cache(monkeypatch, tmp_path, "another-empty-cache")
    say(cli, tmp_path / "c.wav")
    assert len(pocket) == 2


def _damage_file(folder: Path) -> None:
    """The state file changed behind voice.json's back (its hash no longer matches)."""
    path = folder / STATE
    path.write_bytes(path.read_bytes()[:-10])


def _garbage_with_hash(folder: Path) -> None:
    """A state whose hash is right but which is no state at all (a foreign or bad file)."""
    _replace_state(folder, b"this is not a safetensors file")


def _other_layout(folder: Path) -> None:
    """A valid safetensors state, but shaped for another model (a wider attention cache)."""
    import safetensors.torch
    import torch
    from pocket_tts.models.model_state import _import_model_state

    state = _import_model_state(folder / STATE, "cpu")
    flat = {f"{m}/{k}": v for m, tensors in state.items() for k, v in tensors.items()}
    flat = {k: torch.zeros(*v.shape[:-1], v.shape[-1] * 2) if k.endswith("/cache") else v for k, v in flat.items()}
    _replace_state(folder, safetensors.torch.save(flat))


def _replace_state(folder: Path, data: bytes) -> None:
    import hashlib

    (folder / STATE).write_bytes(data)
    document = record(folder)
    document["engine_states"]["pocket"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (folder / "voice.json").write_text(json.dumps(document))


@pytest.mark.parametrize("damage", [_damage_file, _garbage_with_hash, _other_layout],
                         ids=["changed file", "not a state", "another model's layout"])
def test_an_unusable_state_is_made_again_and_the_voice_still_works(cli, pocket, tmp_path, monkeypatch, damage):
    folder = add_me(cli)
    say(cli, tmp_path / "a.wav")
    good = (folder / STATE).read_bytes()
    damage(folder)
    listed = json.loads(cli(["voices", "list", "--json"]).out)
    assert listed[0]["damaged"] is None  # never the voice's damage

    fresh_cache(monkeypatch, tmp_path, "empty-cache")
    stderr = say(cli, tmp_path / "b.wav")
    assert len(pocket) == 2 and "Traceback" not in stderr
    assert (folder / STATE).read_bytes() == good  # replaced by a good one, which is then used
    fresh_cache(monkeypatch, tmp_path, "another-empty-cache")
    say(cli, tmp_path / "c.wav")
    assert len(pocket) == 2


def test_export_leaves_out_a_damaged_state(cli, pocket, tmp_path):
    folder = add_me(cli)
    say(cli, tmp_path / "a.wav")
    _damage_file(folder)
    exported = tmp_path / "me.vcvoice"
    assert cli(["voices", "export", "me", exported]).code == 0
    with zipfile.ZipFile(exported) as archive:
        assert STATE not in archive.namelist()
        assert "engine_states" not in json.loads(archive.read("manifest.json"))


def test_no_cache_encodes_and_leaves_the_voice_alone(cli, pocket, tmp_path):
    folder = add_me(cli)
    say(cli, tmp_path / "a.wav", "--no-cache")
    assert len(pocket) == 1 and "engine_states" not in record(folder)
    say(cli, tmp_path / "b.wav")
    assert len(pocket) == 2 and "engine_states" in record(folder)
    kept = record(folder)
    say(cli, tmp_path / "c.wav", "--no-cache")
    assert len(pocket) == 3 and record(folder) == kept


def test_a_library_that_cannot_be_written_only_costs_time(cli, pocket, tmp_path, monkeypatch):
    """The write fails where the operating system would refuse it (the state file, then
    nothing else is touched); a truly read-only folder is the subprocess test below."""
    import voiceclone_cli.output.atomic as atomic

    folder = add_me(cli)
    before = sorted(p.name for p in folder.iterdir()), record(folder)
    real = atomic.atomic_write_bytes

    def read_only(path, data, *args, **kwargs):
        if Path(path).parent.is_relative_to(folder):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, data, *args, **kwargs)

    monkeypatch.setattr(atomic, "atomic_write_bytes", read_only)
    stderr = say(cli, tmp_path / "a.wav")
    assert "is not kept with voice 'me'" in stderr and "permission denied" in stderr.lower()
    assert (sorted(p.name for p in folder.iterdir() if p.name != "engines"), record(folder)) == before
    assert not (folder / STATE).exists()
    fresh_cache(monkeypatch, tmp_path, "empty-cache")
    say(cli, tmp_path / "b.wav")
    assert len(pocket) == 2  # every use encodes again: slower, never broken


def test_a_read_only_voice_folder_in_another_process(cli, pocket, tiny_model, tmp_path):
    from tests.test_input_edges import _without_read_override

    folder = add_me(cli)
    library = folder.parent
    preexec = _without_read_override if os.geteuid() == 0 else None
    env = {**os.environ, "VOICECLONE_CACHE_DIR": str(tmp_path / "child-cache")}
    library.chmod(0o555)
    folder.chmod(0o555)
    try:
        probe = subprocess.run([sys.executable, "-c", f"open({str(folder / 'x')!r}, 'wb')"],
                               preexec_fn=preexec, capture_output=True, text=True)
        if "PermissionError" not in probe.stderr:
            pytest.skip("cannot make a folder read-only here")
        child = subprocess.run(
            [sys.executable, "-m", "voiceclone_cli", "say", "--engine", "pocket", "--voice", "me",
             "Hello there.", "-o", str(tmp_path / "out.wav")],
            preexec_fn=preexec, capture_output=True, text=True, env=env, timeout=300)
    finally:
        folder.chmod(0o755)
        library.chmod(0o755)
    assert child.returncode == 0, child.stderr
    assert "Traceback" not in child.stderr
    assert read_audio(tmp_path / "out.wav")[1] == 24000
    assert not (folder / "engines").exists() and "engine_states" not in record(folder)


def test_batch_and_serve_keep_and_use_the_state(cli, pocket, tmp_path, monkeypatch):
    from voiceclone_cli.commands.common import open_engine
    from voiceclone_cli.commands.serve import prepare_voice
    from voiceclone_cli.voices import VoiceLibrary

    folder = add_me(cli)
    script = tmp_path / "lines.txt"
    script.write_text("Hello there.\nSame words.\n")
    r = cli(["batch", script, "--engine", "pocket", "--voice", "me", "-d", tmp_path / "out"])
    assert r.code == 0, r.stderr
    assert len(pocket) == 1 and "pocket" in record(folder)["engine_states"]

    # serve prepares a saved voice from its stored sample's path
    fresh_cache(monkeypatch, tmp_path, "empty-cache")
    engine = open_engine(engine="pocket", local=False, no_cache=False, flags={}, quiet=True)
    try:
        prepared = prepare_voice(engine, VoiceLibrary().get("me").sample_path, False)
    finally:
        engine.close()
    assert len(pocket) == 1 and prepared.inner.from_cache
    # an upload (any other path) is still just a sample file
    engine = open_engine(engine="pocket", local=False, no_cache=False, flags={}, quiet=True)
    try:
        upload = tmp_path / "upload.wav"
        upload.write_bytes((folder / "sample.wav").read_bytes())
        prepare_voice(engine, upload, True)
    finally:
        engine.close()
    assert len(pocket) == 2  # not a saved voice: the (empty) pocket cache, then an encoding


def test_a_voice_replaced_meanwhile_is_not_given_the_old_ones_state(cli, pocket, tmp_path):
    """The state is kept only if the folder still holds the voice it was made from."""
    from voiceclone_cli.engines.pocket import PLUGIN
    from voiceclone_cli.voices import VoiceLibrary
    from voiceclone_cli.voices.states import prepare_voice

    add_me(cli)
    stale = VoiceLibrary().get("me")
    sample = stale.prepared_sample()  # read, then the voice is replaced before it is kept
    r = cli(["voices", "add", "me", voice("p227/p227_023.wav"), "--no-profile", "--force"])
    assert r.code == 0, r.stderr
    prepare_voice(PLUGIN.create(None), sample)
    assert len(pocket) == 1 and not stale.folder.exists()
    assert "engine_states" not in record(VoiceLibrary().get("me").folder)
