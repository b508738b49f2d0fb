"""Saved voices in use (--voice, JSONL "voice") and dialogue scripts with a cast."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from tests.conftest import voice
from tests.test_batch_cli import run_batch, write_jsonl

ANA = "p225/p225_023.wav"
BOB = "p227/p227_023.wav"
CY = "1688/1688-142285-0000.wav"


@pytest.fixture
def library():
    from voiceclone_cli.voices.library import VoiceLibrary

    return VoiceLibrary()


def add(library, name: str, rel: str):
    library.add(name, voice(rel), profile=False)
    return library.get(name)


def sha_of(library, name: str) -> str:
    return library.get(name).sha256


# ---- --voice -----------------------------------------------------------------------------------


def test_say_voice_uploads_the_stored_sample_and_shares_the_cache_with_its_file(cli, api_env, library, tmp_path):
    stored = add(library, "Ana", ANA)
    first = cli(["say", "-s", voice(ANA), "Hello from the file.", "-o", tmp_path / "a.wav"])
    assert first.code == 0, first.stderr
    assert api_env.requests[0].file_sha256 == stored.sha256  # the file, prepared, is what was stored
    again = cli(["say", "--voice", "ana", "Hello from the file.", "-o", tmp_path / "b.wav", "--json"])
    assert again.code == 0, again.stderr
    assert len(api_env.requests) == 1 and json.loads(again.stdout)["cache_hits"] == 1
    new = cli(["say", "--voice", "ANA", "Something new.", "-o", tmp_path / "c.wav"])
    assert new.code == 0 and api_env.requests[-1].file_sha256 == stored.sha256


def test_voice_and_sample_together_or_an_unknown_voice_cost_nothing(cli, api_env, library, sample_wav, tmp_path):
    add(library, "Anna", ANA)
    both = cli(["say", "--voice", "Anna", "-s", sample_wav, "Hello.", "-o", tmp_path / "a.wav"])
    assert both.code == 2
    unknown = cli(["say", "--voice", "ana", "Hello.", "-o", tmp_path / "a.wav"])
    assert unknown.code == 3 and "no voice named 'ana'" in unknown.stderr and "Anna" in unknown.stderr
    batch = run_batch(cli, write_jsonl(tmp_path / "s.jsonl", [{"text": "Hi."}]), "--voice", "ana", "-d", tmp_path / "o")
    assert batch.code == 3 and "Anna" in batch.stderr
    assert api_env.requests == [] and not (tmp_path / "a.wav").exists()


def test_batch_voice_and_jsonl_voice(cli, api_env, library, tmp_path):
    add(library, "ana", ANA)
    add(library, "bob", BOB)
    script = write_jsonl(tmp_path / "s.jsonl", [
        {"text": "In the default voice."},
        {"text": "In Bob's voice.", "voice": "bob"},
        {"text": "Both is wrong.", "voice": "bob", "sample": str(voice(CY))},
        {"text": "Nobody.", "voice": "nobody"},
    ])
    r = run_batch(cli, script, "--voice", "ana", "-d", tmp_path / "out", "--json")
    assert r.code == 10
    summary = json.loads(r.stdout)
    assert summary["done"] == 2
    reasons = {f["line"]: f["reason"] for f in summary["failures"]}
    assert 'not both' in reasons[3] and "no voice named 'nobody'" in reasons[4]
    sent = {q.fields["text"]: q.file_sha256 for q in api_env.requests}
    assert sent == {"In the default voice.": sha_of(library, "ana"), "In Bob's voice.": sha_of(library, "bob")}


def test_a_saved_voice_is_ready_for_the_local_engine_without_analysis(cli, library, tmp_path):
    pytest.importorskip("piper")
    library.add("ana", voice(ANA))  # with its local profile, put in the profile cache
    r = cli(["say", "--local", "--voice", "ana", "Hello there.", "-o", tmp_path / "o.wav"])
    assert r.code == 0, r.stderr
    assert "analysing" not in r.stderr and sf.info(tmp_path / "o.wav").duration > 0.3


# ---- dialogue scripts --------------------------------------------------------------------------------


PLAY = """\
# A scene with three speakers.
Ana: Good morning, Bob.
Bob: Morning! Did you sleep well?
Ana: Not really.
The neighbours were loud again.
Cy: Sorry, that was my party.
"""


def write_play(tmp_path, text: str = PLAY):
    path = tmp_path / "play.txt"
    path.write_text(text)
    return path


def test_a_dialogue_with_files_and_saved_voices_mixed(cli, api_env, library, tmp_path):
    add(library, "robert", BOB)
    add(library, "Cy", CY)  # no --cast: the saved voice of the same name
    out = tmp_path / "out"
    r = run_batch(cli, write_play(tmp_path), "--cast", f"ana={voice(ANA)}", "--cast", "bob=robert",
                  "-d", out, "--join", tmp_path / "play.wav", "--json")
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.wav")) == ["2-ana.wav", "3-bob.wav", "4-ana.wav", "5-ana.wav", "6-cy.wav"]
    from voiceclone_cli.prepare.sample import prepare_sample

    ana = prepare_sample(voice(ANA)).sha256
    by_text = {q.fields["text"]: q.file_sha256 for q in api_env.requests}
    assert by_text == {
        "Good morning, Bob.": ana,
        "Morning! Did you sleep well?": sha_of(library, "robert"),
        "Not really.": ana,
        "The neighbours were loud again.": ana,  # a line without NAME: goes on with Ana's turn
        "Sorry, that was my party.": sha_of(library, "Cy"),
    }
    joined = sf.info(tmp_path / "play.wav").duration
    parts = sum(sf.info(p).duration for p in out.glob("*.wav"))
    assert joined == pytest.approx(parts + 4 * 0.5, abs=0.01)  # five lines, four gaps


def test_unknown_speakers_stop_the_job_before_any_request(cli, api_env, library, tmp_path):
    add(library, "Ana", ANA)
    r = run_batch(cli, write_play(tmp_path), "--cast", "cy=nobody-saved", "-d", tmp_path / "out")
    assert r.code == 3
    assert "Bob (line 3)" in r.stderr and "Cy (line 6)" in r.stderr and "Ana" not in r.stderr.split("—")[0]
    assert api_env.requests == [] and not (tmp_path / "out").exists()


def test_script_format_without_cast_and_a_line_before_any_speaker(cli, api_env, library, tmp_path):
    add(library, "Ana", ANA)
    play = write_play(tmp_path, "Nobody says this.\nAna: Hello.\n")
    r = run_batch(cli, play, "--input-format", "script", "-d", tmp_path / "out", "--json")
    assert r.code == 10
    summary = json.loads(r.stdout)
    assert summary["done"] == 1 and "no speaker yet" in summary["failures"][0]["reason"]


def test_dialogue_dry_run_counts_lines_and_characters_per_speaker(cli, api_env, library, tmp_path):
    add(library, "Ana", ANA)
    add(library, "Bob", BOB)
    add(library, "Cy", CY)
    r = run_batch(cli, write_play(tmp_path), "--input-format", "script", "-d", tmp_path / "out", "--dry-run", "--json")
    assert r.code == 0, r.stderr
    speakers = json.loads(r.stdout)["speakers"]
    assert speakers["Ana"] == {"lines": 3, "characters": len("Good morning, Bob.") + len("Not really.")
                               + len("The neighbours were loud again.")}
    assert speakers["Bob"]["lines"] == 1 and speakers["Cy"]["lines"] == 1
    assert api_env.requests == [] and not (tmp_path / "out").exists()


def test_cast_needs_a_script_and_a_well_formed_value(cli, api_env, sample_wav, tmp_path):
    lines = write_jsonl(tmp_path / "s.jsonl", [{"text": "Hi."}])
    assert run_batch(cli, lines, "-s", sample_wav, "--cast", "a=b", "-d", tmp_path / "o").code == 2
    assert run_batch(cli, write_play(tmp_path), "--cast", "ana", "-d", tmp_path / "o").code == 2
    assert run_batch(cli, write_play(tmp_path), "--cast", "ana=x", "--cast", "ANA=y", "-d", tmp_path / "o").code == 2
