"""The book run: chapter marks, loudness, subtitles, chapter files, and the book command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.test_subtitles import parse_srt
from voiceclone_cli.audio.loudness import LoudnessMeter
from voiceclone_cli.book.job import CHAPTER_GAP_SECONDS, BookOptions, run_book, work_folder
from voiceclone_cli.book.model import Book, Chapter
from voiceclone_cli.commands import book as book_command


def make_book(chapters: int = 3, sentences: int = 12) -> Book:
    """Chapters of different lengths, a front-matter section, numbered sentences (no repeats)."""
    parts = [Chapter(1, "Contents", "Chapter one. Chapter two. Chapter three.", kind="toc")]
    for n in range(1, chapters + 1):
        text = " ".join(f"Chapter {n} says sentence {i} of its story." for i in range(sentences * n))
        parts.append(Chapter(n + 1, f"Chapter {n}", text))
    return Book("The Test Book", "A. Writer", chapters=parts)


@pytest.fixture
def engine_and_voice(api_env, sample_wav):
    import voiceclone_cli as vc

    engine = vc.get_engine("remote", max_workers=4)
    yield engine, engine.prepare_voice(vc.prepare_sample(sample_wav))
    engine.close()


def measure(path: Path):
    samples, rate = sf.read(path, dtype="float32")
    meter = LoudnessMeter(rate)
    meter.add(samples)
    return meter.result()


def test_m4b_chapter_starts_match_the_chapter_audio(engine_and_voice, tmp_path):
    import av

    engine, voice = engine_and_voice
    book = make_book()
    out = tmp_path / "book.m4b"
    options = BookOptions(output=out, format_name="m4b", jobs=4, keep_work=True)
    summary = run_book(book, book.selected(), engine, voice, options)
    lengths = [sf.info(path).duration for path in sorted(work_folder(options).glob("*.wav"))]
    assert len(lengths) == 3 and len(set(lengths)) == 3
    with av.open(str(out)) as container:
        marks = container.chapters()
        assert container.metadata["title"] == "The Test Book" and container.metadata["artist"] == "A. Writer"
        duration = container.duration / 1e6
    assert [m["metadata"]["title"] for m in marks] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    starts = [float(m["start"] * m["time_base"]) for m in marks]
    expected = np.cumsum([0.0] + [length + CHAPTER_GAP_SECONDS for length in lengths[:-1]])
    assert np.allclose(starts, expected, atol=0.05)
    assert abs(duration - (expected[-1] + lengths[-1])) < 0.1
    assert summary.made == 3 and summary.resumed == 0


def test_loudness_reaches_the_target_with_one_gain_and_peaks_stay_under_the_ceiling(engine_and_voice, api_env, tmp_path):
    engine, voice = engine_and_voice
    api_env.state.amplitudes = [0.05, 0.4, 0.2]  # chunks made at very different levels
    book = make_book(chapters=2)
    for target in (-18.0, -23.0):
        out = tmp_path / f"book{target}.wav"
        run_book(book, book.selected(), engine, voice, BookOptions(output=out, format_name="wav", loudness=target))
        assert abs(measure(out).integrated_lufs - target) <= 1.0
    loud = tmp_path / "loud.wav"  # a target a sine cannot reach without passing -1 dBTP
    summary = run_book(book, book.selected(), engine, voice, BookOptions(output=loud, format_name="wav", loudness=-5.0))
    assert measure(loud).true_peak_dbtp <= -1.0 + 0.05
    assert summary.gain_db < -5.0 - summary.loudness_lufs  # held back by the ceiling
    off = tmp_path / "off.wav"
    summary = run_book(book, book.selected(), engine, voice, BookOptions(output=off, format_name="wav", loudness=None))
    assert summary.gain_db == 0.0 and summary.loudness_lufs is None


def test_book_srt_follows_the_book_timeline_and_ends_with_the_audio(engine_and_voice, tmp_path):
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=6)
    out, srt = tmp_path / "book.wav", tmp_path / "book.srt"
    summary = run_book(book, book.selected(), engine, voice,
                       BookOptions(output=out, format_name="wav", srt=srt, title_pause=1.0))
    cues = parse_srt(srt.read_text())
    assert [c[2] for c in cues if c[2].startswith("Chapter ") and len(c[2]) < 12] == ["Chapter 1", "Chapter 2"]
    for (start, end, _), (next_start, _, _) in zip(cues, cues[1:]):
        assert start < end <= next_start
    second_title = next(c for c in cues if c[2] == "Chapter 2")
    assert abs(second_title[0] - summary.chapters[1].start) < 0.05
    assert abs(cues[-1][1] - sf.info(out).duration) < 0.3


def test_mp3_carries_id3_chapter_frames_and_still_plays(engine_and_voice, tmp_path):
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=4)
    out = tmp_path / "book.mp3"
    run_book(book, book.selected(), engine, voice, BookOptions(output=out, format_name="mp3"))
    data = out.read_bytes()
    assert data[:3] == b"ID3" and data.count(b"CHAP") == 2 and b"CTOC" in data
    assert "Chapter 2".encode("utf-16-le") in data
    assert sf.info(out).duration > 5
    assert not work_folder(BookOptions(output=out)).exists()  # removed once the book is written


def test_outdir_gets_one_file_per_chapter_and_chapters_json(engine_and_voice, tmp_path):
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=4)
    outdir = tmp_path / "chapters"
    outdir.mkdir()
    run_book(book, book.selected(), engine, voice, BookOptions(outdir=outdir, format_name="flac"))
    listing = json.loads((outdir / "chapters.json").read_text())
    assert [c["file"] for c in listing["chapters"]] == ["01-chapter-1.flac", "02-chapter-2.flac"]
    for entry in listing["chapters"]:
        assert abs(sf.info(outdir / entry["file"]).duration - entry["seconds"]) < 0.01
    assert sorted(p.name for p in outdir.iterdir()) == ["01-chapter-1.flac", "02-chapter-2.flac", "chapters.json"]


def test_outdir_temps_of_a_killed_run_are_removed_and_others_kept(engine_and_voice, tmp_path):
    from tests.conftest import dead_pid
    from voiceclone_cli.output.atomic import temp_path_for

    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=2)
    outdir = tmp_path / "chapters"
    outdir.mkdir()
    stale = temp_path_for(outdir / "01-chapter-1.flac", pid=dead_pid())
    foreign = temp_path_for(outdir / "my-notes.txt", pid=dead_pid())  # not a file this book writes
    stale.write_bytes(b"half a chapter")
    foreign.write_bytes(b"kept")
    run_book(book, book.selected(), engine, voice, BookOptions(outdir=outdir, format_name="flac"))
    assert not stale.exists() and foreign.exists()


# ---- the command ---------------------------------------------------------------------------


@pytest.fixture
def a_book(monkeypatch, tmp_path):
    path = tmp_path / "novel.epub"
    path.write_bytes(b"not read: the reader is replaced")
    monkeypatch.setattr(book_command, "read_book", lambda p: make_book(chapters=3, sentences=3))
    return path


def test_list_prints_the_chapters_and_sends_nothing(a_book, api_env, cli):
    result = cli(["book", a_book, "--list"])
    assert result.code == 0, result.stderr
    lines = result.out.splitlines()
    assert lines[0] == "The Test Book — A. Writer"
    assert "(skipped: toc)" in lines[2] and lines[3].split()[:3] == ["2", "Chapter", "1"]
    assert not api_env.requests
    as_json = json.loads(cli(["book", a_book, "--list", "--json", "--chapters", "2-3"]).out)
    assert [c["selected"] for c in as_json["chapters"]] == [False, True, True, False]


def test_dry_run_counts_requests_and_writes_nothing(a_book, api_env, cli, sample_wav, tmp_path):
    out = tmp_path / "book.m4b"
    result = cli(["book", a_book, "-s", sample_wav, "-o", out, "--dry-run", "--json", "-j", "4"])
    assert result.code == 0, result.stderr
    report = json.loads(result.out)
    assert report["chapters"] == 3 and report["requests"] >= 6 and report["jobs"] == 4
    assert not api_env.requests and not out.exists() and not list(tmp_path.glob(".*"))


def test_dry_run_into_a_folder_creates_no_folder(a_book, api_env, cli, sample_wav, tmp_path):
    result = cli(["book", a_book, "-s", sample_wav, "-d", tmp_path / "chapters", "--dry-run"])
    assert result.code == 0, result.stderr
    assert not (tmp_path / "chapters").exists() and not api_env.requests


def test_book_command_writes_the_book_and_a_json_summary(a_book, api_env, cli, sample_wav, tmp_path):
    out = tmp_path / "book.m4b"
    result = cli(["book", a_book, "-s", sample_wav, "-o", out, "--json", "--chapters", "2,4"])
    assert result.code == 0, result.stderr
    summary = json.loads(result.out)
    assert [c["title"] for c in summary["chapters"]] == ["Chapter 1", "Chapter 3"]
    assert out.exists() and summary["requests"] == len(api_env.requests)


def test_the_summary_says_when_the_peak_ceiling_kept_the_book_under_its_target(a_book, api_env, cli, sample_wav, tmp_path):
    quiet = cli(["book", a_book, "-s", sample_wav, "-o", tmp_path / "a.wav", "--loudness", "-23"])
    loud = cli(["book", a_book, "-s", sample_wav, "-o", tmp_path / "b.wav", "--loudness", "-5"])
    assert quiet.code == 0 and loud.code == 0, loud.stderr
    assert "held back" not in quiet.stderr  # the fake voice reaches -23 LUFS with room to spare
    assert "not -5: held back by the -1 dBTP true-peak ceiling" in loud.stderr


@pytest.mark.parametrize("args, message", [
    ([], "either -o FILE"),
    (["-o", "x.m4b", "-d", "dir"], "either -o FILE"),
    (["-o", "x.aiff"], "cannot write a book as aiff"),
    (["-d", "dir", "--format", "m4b"], "m4b is for one chaptered file"),
    (["-o", "x.m4b", "--chapters", "3-1"], "not a chapter number or range"),
    (["-o", "x.m4b", "--chapters", "9"], "no chapter 9"),
    (["-o", "x.m4b", "--loudness", "loud"], "not a number"),
    (["-d", "dir", "--srt", "x.srt"], "--srt/--vtt"),
])
def test_usage_errors_before_any_request(a_book, api_env, cli, sample_wav, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = cli(["book", a_book, "-s", sample_wav, *args])
    assert result.code == 2 and message in result.stderr
    assert not api_env.requests


def test_the_book_or_the_sample_is_never_the_output(a_book, api_env, cli, sample_wav):
    for target in (a_book, sample_wav):
        result = cli(["book", a_book, "-s", sample_wav, "-o", target, "--format", "mp3"])
        assert result.code == 2 and "would destroy it" in result.stderr
    assert not api_env.requests
