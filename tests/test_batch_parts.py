"""The pieces of ``voiceclone batch`` on their own: inputs, names, manifest, clean-up, voices."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voiceclone_cli.output.atomic import temp_path_for
from voiceclone_cli.batch import voices
from voiceclone_cli.batch.failures import retry_entry
from voiceclone_cli.batch.inputs import JSONL, TEXT, BatchInput
from voiceclone_cli.batch.manifest import (
    MANIFEST_NAME,
    Finished,
    Manifest,
    output_is_intact,
)
from voiceclone_cli.batch.naming import NameTemplate, check_output_name, count_width, slugify
from voiceclone_cli.batch.voices import VoiceCache
from voiceclone_cli.errors import InputError, OutputError, SampleError, UsageError


def items_of(source: BatchInput):
    return list(source.items())


# ---- inputs ------------------------------------------------------------------------------


def test_text_lines_keep_their_numbers(tmp_path):
    path = tmp_path / "script.txt"
    path.write_bytes(b"\xef\xbb\xbfFirst line.\r\n\n# a comment\n   \n  # indented comment\nSecond line.\nThird.")
    source = BatchInput.from_path(path)
    assert source.format == TEXT
    assert source.shape().items == 3 and source.shape().last_line == 7
    assert [(i.line, i.index, i.text) for i in items_of(source)] == [
        (1, 1, "First line."), (6, 2, "Second line."), (7, 3, "Third."),
    ]


def test_jsonl_fields_and_overrides(tmp_path):
    (tmp_path / "voices").mkdir()
    path = tmp_path / "lines.jsonl"
    lines = [
        {"text": "Plain."},
        {"text": "All of them.", "output": "intro/a", "sample": "voices/bob.wav", "speed": 1.5, "pitch": -0.25,
         "_speaker": "Bob"},
        {"text": "Null means unset.", "speed": None},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    first, second, third = items_of(BatchInput.from_path(path))
    assert (first.text, first.output, first.sample, first.speed, first.problem) == ("Plain.", None, None, None, None)
    assert second.output == "intro/a" and second.speed == 1.5 and second.pitch == -0.25
    assert second.sample == tmp_path / "voices" / "bob.wav"  # relative to the input, not the cwd
    assert second.problem is None
    assert third.speed is None and third.problem is None


@pytest.mark.parametrize("line, problem", [
    ('{"text": "x", "sped": 1.2}', 'unknown key "sped"'),
    ('{"txt": "x"}', '"text" is missing'),
    ('{"text": 5}', '"text" must be a string'),
    ('{"text": "x", "speed": 3}', '"speed" 3 is outside 0.5 to 2'),
    ('{"text": "x", "pitch": NaN}', '"pitch" NaN is not a number'),
    ('{"text": "x", "speed": "fast"}', '"speed" must be a number'),
    ('{"text": "x", "speed": true}', '"speed" must be a number'),
    ('{"text": "x", "output": 7}', '"output" must be a string'),
    ('{"text": "x",}', "not valid JSON"),
    ('["text"]', "not a JSON object"),
])
def test_jsonl_problems_belong_to_their_line(line, problem):
    source = BatchInput.from_stream(io.BytesIO(f'{{"text": "fine"}}\n{line}\n'.encode()), JSONL)
    good, bad = items_of(source)
    assert good.problem is None
    assert bad.line == 2 and problem in bad.problem


def test_every_problem_of_a_line_is_named():
    (item,) = items_of(BatchInput.from_stream(io.BytesIO(b'{"speed": 9, "oops": 1}\n'), JSONL))
    assert 'unknown key "oops"' in item.problem and '"text" is missing' in item.problem
    assert '"speed" 9' in item.problem


@pytest.mark.parametrize("data, fmt, count", [
    (b'\n# header\n{"text": "a"}\n', JSONL, 1),
    (b"Hello there.\n{not json}\n", TEXT, 2),
    (b"", TEXT, 0),
])
def test_stdin_format_is_sniffed_from_the_first_content_line(data, fmt, count):
    source = BatchInput.from_stream(io.BytesIO(data))
    assert source.format == fmt
    assert len(items_of(source)) == count


def test_sniffed_lines_are_not_lost():
    source = BatchInput.from_stream(io.BytesIO(b'# c\n{"text": "one"}\n{"text": "two"}\n'))
    assert [(i.line, i.text) for i in items_of(source)] == [(2, "one"), (3, "two")]


def test_suffix_decides_before_content(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("this is not json\n")
    (item,) = items_of(BatchInput.from_path(path))
    assert "not valid JSON" in item.problem  # never spoken as text


def test_a_file_that_is_not_utf8_is_refused_before_any_work(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Fine.\nCaf\u00e9.\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"not valid UTF-8 \(line 2\)"):
        BatchInput.from_path(path).shape()


def test_stdin_that_is_not_utf8_fails_only_that_line():
    source = BatchInput.from_stream(io.BytesIO("Fine.\nCaf\u00e9.\n".encode("latin-1")), TEXT)
    fine, bad = items_of(source)
    assert fine.problem is None and "not valid UTF-8" in bad.problem


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.txt", "input file not found"),
    (lambda d: d, "input file is a directory"),
])
def test_unusable_input_paths(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        BatchInput.from_path(make(tmp_path))


def test_stdin_is_read_once():
    source = BatchInput.from_stream(io.BytesIO(b"a\n"), TEXT)
    assert source.shape() is None
    items_of(source)
    with pytest.raises(RuntimeError):
        items_of(source)


# ---- names -------------------------------------------------------------------------------


def test_default_names_are_line_numbers_padded_to_the_count():
    template = NameTemplate()
    assert template.render(line=7, index=3, text="x", line_width=count_width(120), index_width=2) == "007"
    assert count_width(9) == 1 and count_width(10) == 2 and count_width(None) == 4


def test_template_fields_and_format_specs():
    template = NameTemplate("{n}-{line:d}-{slug}")
    assert template.render(line=12, index=4, text="Hello, World!", line_width=3, index_width=2) == "04-12-hello-world"
    assert NameTemplate("{n:05d}").render(line=1, index=42, text="", line_width=1, index_width=2) == "00042"


@pytest.mark.parametrize("template, message", [
    ("{nn}", "unknown field {nn}"),
    ("{}", "unknown field {}"),
    ("{n.real}", "unknown field"),
    ("fixed", "needs {n}, {line} or {slug}"),
    ("{slug:d}", "--name-template"),
    ("{n", "--name-template"),
    ("../{n}", "points outside OUTDIR"),
    ("/tmp/{n}", "absolute path"),
    (".{line}", "hidden name"),
])
def test_bad_templates_are_usage_errors(template, message):
    with pytest.raises(UsageError, match=message):
        NameTemplate(template)


@pytest.mark.parametrize("text, slug", [
    ("Hello, World!", "hello-world"),
    ("  Ça va?  Très bien. ", "ça-va-très-bien"),
    ("第一章 はじめに", "第一章-はじめに"),
    ("snake_case and CAPS", "snake-case-and-caps"),
    ("!!!", "untitled"),
    ("word " * 30, "-".join(["word"] * 8)),
    ("x" * 60, "x" * 40),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


@pytest.mark.parametrize("name, expected", [
    ("intro", "intro.wav"),
    ("chapter-1/scene 2.WAV", "chapter-1/scene 2.WAV"),
    ("./a.wav", "a.wav"),
    ("take.v2", "take.v2.wav"),
])
def test_output_names_inside_outdir(name, expected):
    assert check_output_name(name) == expected


@pytest.mark.parametrize("name, message", [
    ("../escape.wav", "points outside OUTDIR"),
    ("a/../../escape.wav", "points outside OUTDIR"),
    ("/etc/passwd", "absolute path"),
    ("C:/Users/x.wav", "absolute path"),
    ("a\\b.wav", "backslash"),
    (".voiceclone-manifest.jsonl", "hidden name"),
    ("sub/.hidden.wav", "hidden name"),
    ("   ", "empty"),
    ("a\x00b", "control characters"),
    ("x" * 300, "longer than 255 bytes"),
    (".", "names no file"),
])
def test_output_names_that_are_refused(name, message):
    with pytest.raises(InputError, match=message):
        check_output_name(name)


# ---- manifest ----------------------------------------------------------------------------


def record(output="01.wav", digest="h1", frames=2400, line=1):
    return Finished(line=line, output=output, hash=digest, seconds=frames / 24000, frames=frames, rate=24000)


def test_manifest_round_trip_and_the_latest_record_wins(tmp_path):
    manifest = Manifest.open(tmp_path)
    manifest.record(record(digest="old"))
    manifest.record(record(digest="new"))
    manifest.record(record(output="02.wav", line=2))
    manifest.close()
    manifest.record(record(output="03.wav"))  # after close: ignored, never written to a reused fd
    again = Manifest.open(tmp_path)
    assert again.finished("01.wav").hash == "new"
    assert again.finished("02.wav").line == 2
    assert again.finished("03.wav") is None
    again.close()


def test_a_torn_last_line_is_cut_off_and_appending_continues_cleanly(tmp_path):
    manifest = Manifest.open(tmp_path)
    manifest.record(record())
    manifest.close()
    path = tmp_path / MANIFEST_NAME
    with open(path, "ab") as handle:
        handle.write(b'{"line": 2, "output": "02.wav", "ha')  # the process died mid-append
    manifest = Manifest.open(tmp_path)
    assert manifest.finished("02.wav") is None
    manifest.record(record(output="03.wav", line=3))
    manifest.close()
    lines = path.read_bytes().splitlines()
    assert [json.loads(x)["output"] for x in lines] == ["01.wav", "03.wav"]


def test_unreadable_records_are_ignored(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text('garbage\n{"output": "x.wav"}\n' + json.dumps(record().__dict__) + "\n")
    manifest = Manifest.open(tmp_path)
    assert manifest.finished("01.wav") == record() and manifest.finished("x.wav") is None
    manifest.close()


def test_the_manifest_locks_outdir(tmp_path):
    first = Manifest.open(tmp_path)
    with pytest.raises(OutputError, match="in use by another voiceclone batch"):
        Manifest.open(tmp_path)
    first.close()
    Manifest.open(tmp_path).close()


def test_output_is_intact_checks_length_and_content(tmp_path):
    path = tmp_path / "01.wav"
    sf.write(path, np.zeros(2400, dtype=np.float32), 24000, subtype="PCM_16")
    assert output_is_intact(path, record(frames=2400))
    assert not output_is_intact(path, record(frames=2401))
    assert not output_is_intact(tmp_path / "missing.wav", record())
    path.write_bytes(path.read_bytes()[:1000])  # cut short
    assert not output_is_intact(path, record(frames=2400))
    path.write_text("not audio")
    assert not output_is_intact(path, record(frames=2400))


def test_stale_temps_are_removed_and_nothing_else(tmp_path):
    from voiceclone_cli.output.atomic import remove_stale_temps
    from voiceclone_cli.batch.runner import _batch_temp_target

    (tmp_path / "sub").mkdir()
    from tests.conftest import dead_pid

    dead = dead_pid()
    stale = [temp_path_for(tmp_path / "0001.wav", pid=dead), temp_path_for(tmp_path / "sub" / "x.wav", pid=dead),
             temp_path_for(tmp_path / "failed.jsonl", pid=dead)]
    kept = [tmp_path / "0001.wav", tmp_path / ".hidden", tmp_path / "movie.mkv.part",
            tmp_path / ".notes.txt.123-deadbeef.part", tmp_path / MANIFEST_NAME,
            temp_path_for(tmp_path / "live.wav"),  # this process is alive: never its files
            temp_path_for(tmp_path / "other.wav", pid=1)]  # init, alive
    for path in stale + kept:
        path.write_bytes(b"x")
    assert remove_stale_temps(tmp_path, recursive=True, targets=_batch_temp_target) == 3
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(p.name for p in kept)


# ---- failed.jsonl entries ----------------------------------------------------------------


def test_retry_entries_read_back_as_the_same_line(tmp_path):
    (tmp_path / "in").mkdir()
    source = BatchInput.from_stream(io.BytesIO(
        b'{"text": "One.", "sample": "v.wav", "speed": 1.2, "_note": "x"}\n{"text": "Two.", "pitch": 5}\nbroken\n'
    ), JSONL, base_dir=tmp_path / "in")
    one, two, broken = items_of(source)
    entries = [retry_entry(one, "01.wav", "HTTP 500"), retry_entry(two, "02.wav", two.problem),
               retry_entry(broken, "03.wav", broken.problem)]
    assert entries[0] == {"text": "One.", "sample": str(tmp_path / "in" / "v.wav"), "speed": 1.2,
                          "output": "01.wav", "_line": 1, "_error": "HTTP 500"}
    assert entries[1]["pitch"] == 5  # the bad value is kept, for the user to fix
    assert entries[2]["_raw"] == "broken" and entries[2]["output"] == "03.wav"
    data = "".join(json.dumps(e) + "\n" for e in entries).encode()
    back = items_of(BatchInput.from_stream(io.BytesIO(data), base_dir=Path(os.sep)))
    assert (back[0].text, back[0].sample, back[0].speed, back[0].output, back[0].problem) == (
        "One.", tmp_path / "in" / "v.wav", 1.2, "01.wav", None)
    assert '"pitch" 5' in back[1].problem
    assert '"text" is missing' in back[2].problem


# ---- voices ------------------------------------------------------------------------------


class CountingEngine:
    """Prepares 'voices' from any file whose first byte is not 'x'; counts the work done."""

    name = "counting"

    def __init__(self):
        self.prepared: list[Path] = []

    def prepare_voice(self, sample):
        self.prepared.append(Path(sample.source))
        return f"voice of {Path(sample.source).name}"


@pytest.fixture(autouse=True)
def fake_sample_checks(monkeypatch):
    """The samples here are a byte each: 'checking' one refuses it if it starts with x."""
    from types import SimpleNamespace

    from voiceclone_cli.prepare import voice as voice_module

    def load(*, sample=None, voice=None, strict=False):
        if Path(sample).read_bytes().startswith(b"x"):
            raise SampleError("the sample is unusable")
        return SimpleNamespace(source=Path(sample), notes=[])

    monkeypatch.setattr(voice_module, "load_voice_sample", load)


def test_each_sample_is_prepared_once_and_a_refusal_is_remembered(tmp_path):
    for name, data in (("main.wav", b"m"), ("a.wav", b"a"), ("bad.wav", b"x")):
        (tmp_path / name).write_bytes(data)
    engine = CountingEngine()
    cache = VoiceCache(engine, strict=False)
    cache.prepare_default(tmp_path / "main.wav")
    assert cache.voice(tmp_path / "." / "main.wav") == "voice of main.wav"  # same file, same voice
    assert cache.voice(tmp_path / "a.wav") == cache.voice(tmp_path / "a.wav")
    for _ in range(2):
        with pytest.raises(SampleError, match="sample bad.wav: the sample is unusable"):
            cache.voice(tmp_path / "bad.wav")
    assert [p.name for p in engine.prepared] == ["main.wav", "a.wav"]  # bad.wav: refused when checked


def test_hashing_a_sample_needs_no_preparation(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"a")
    engine = CountingEngine()
    cache = VoiceCache(engine, strict=False)
    assert cache.digest(tmp_path / "a.wav") == hashlib.sha256(b"a").hexdigest()
    assert engine.prepared == []
    with pytest.raises(SampleError, match="sample not found"):
        cache.digest(tmp_path / "missing.wav")


def test_prepared_voices_are_evicted_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.setattr(voices, "CACHE_SIZE", 2)
    for name in "abc":
        (tmp_path / f"{name}.wav").write_bytes(name.encode())
    engine = CountingEngine()
    cache = VoiceCache(engine, strict=False)
    for name in "abac":  # c evicts b, the least recently used
        cache.voice(tmp_path / f"{name}.wav")
    cache.voice(tmp_path / "a.wav")
    cache.voice(tmp_path / "b.wav")
    assert "".join(p.stem for p in engine.prepared) == "abcb"
