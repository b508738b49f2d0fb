"""``batch --join --srt/--vtt``: the sentence cues of every line, on the joined file's timeline."""

from __future__ import annotations

import json

import soundfile as sf

from tests.test_batch_cli import run_batch, write_lines
from tests.test_subtitles import parse_srt
from voiceclone_cli.batch.manifest import cues_path
from voiceclone_cli.speech import sentences

LINES = [
    "The first line has two sentences. This is the second one!",
    "A short line.",
    "Does the third line ask something? It does. And then it stops.",
]


def assert_follows_the_join(srt_text: str, joined) -> list[tuple[float, float, str]]:
    cues = parse_srt(srt_text)
    assert [c[2] for c in cues] == [s for line in LINES for s in sentences(line)]
    for (start, end, _), (next_start, _, _) in zip(cues, cues[1:]):
        assert start < end <= next_start
    assert abs(cues[-1][1] - sf.info(joined).duration) < 0.3
    return cues


def test_joined_subtitles_have_a_cue_per_sentence_timed_to_the_join(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", LINES)
    out, joined, srt, vtt = tmp_path / "out", tmp_path / "all.wav", tmp_path / "all.srt", tmp_path / "all.vtt"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--gap", "1.5",
                  "--srt", srt, "--vtt", vtt)
    assert r.code == 0, r.stderr
    cues = assert_follows_the_join(srt.read_text(), joined)
    # Each line's first cue starts where that line starts in the join: after the lines before it
    # and their gaps (the fake voice's lines have no leading silence worth a cue's offset).
    line_seconds = [sf.info(out / f"{n}.wav").duration for n in (1, 2, 3)]
    first_cues = [cues[0], cues[2], cues[3]]
    starts = [0.0, line_seconds[0] + 1.5, line_seconds[0] + line_seconds[1] + 3.0]
    for cue, start in zip(first_cues, starts):
        assert abs(cue[0] - start) < 0.05
    text = vtt.read_text()
    assert text.startswith("WEBVTT\n\n")
    assert text.count(" --> ") == len(cues)


def test_a_resumed_batch_writes_the_same_subtitles(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", LINES)
    out, joined, srt = tmp_path / "out", tmp_path / "all.wav", tmp_path / "all.srt"
    args = (script, "-s", sample_wav, "-d", out, "--join", joined, "--srt", srt, "--json")
    first = run_batch(cli, *args)
    assert first.code == 0, first.stderr
    made = srt.read_text()
    srt.unlink()
    sent = len(api_env.requests)
    again = run_batch(cli, *args)
    assert again.code == 0, again.stderr
    assert json.loads(again.out)["skipped"] == len(LINES)
    assert len(api_env.requests) == sent  # nothing spoken again
    assert srt.read_text() == made


def test_lines_made_without_cues_get_one_cue_spanning_their_audio(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", LINES)
    out, joined, srt = tmp_path / "out", tmp_path / "all.wav", tmp_path / "all.srt"
    assert run_batch(cli, script, "-s", sample_wav, "-d", out).code == 0
    assert not cues_path(out / "1.wav").exists()
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--srt", srt)
    assert r.code == 0, r.stderr
    cues = parse_srt(srt.read_text())
    assert [c[2] for c in cues] == LINES
    assert abs(cues[0][1] - sf.info(out / "1.wav").duration) < 0.01
    assert abs(cues[-1][1] - sf.info(joined).duration) < 0.01


def test_cues_of_a_line_redone_without_subtitles_are_not_reused(cli, api_env, sample_wav, tmp_path):
    out, joined, srt = tmp_path / "out", tmp_path / "all.wav", tmp_path / "all.srt"
    script = write_lines(tmp_path / "s.txt", LINES)
    assert run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--srt", srt).code == 0
    changed = [LINES[0], "A new second line. Now in two sentences.", LINES[2]]
    write_lines(script, changed)
    assert run_batch(cli, script, "-s", sample_wav, "-d", out).code == 0  # line 2 redone, no cues saved
    assert run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--srt", srt).code == 0
    texts = [c[2] for c in parse_srt(srt.read_text())]
    assert texts == [*sentences(LINES[0]), changed[1], *sentences(LINES[2])]


def test_subtitles_without_join_are_refused(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", LINES)
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--srt", tmp_path / "all.srt")
    assert r.code == 2 and "subtitles follow the --join file" in r.stderr
    assert not api_env.requests and not (tmp_path / "out").exists()


def test_a_subtitle_path_that_is_an_input_is_refused_before_any_work(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.srt", LINES)
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--join", tmp_path / "all.wav",
                  "--input-format", "text", "--srt", script)
    assert r.code == 2 and "batch input" in r.stderr
    assert script.read_text() == "".join(line + "\n" for line in LINES)
    assert not api_env.requests and not (tmp_path / "out").exists()


def test_a_cues_temp_file_left_by_a_killed_run_is_removed(cli, api_env, sample_wav, tmp_path):
    from tests.conftest import dead_pid
    from voiceclone_cli.output.atomic import temp_path_for

    out = tmp_path / "out"
    out.mkdir()
    stale = temp_path_for(cues_path(out / "1.wav"), pid=dead_pid())
    stale.write_bytes(b'{"hash": "torn')
    script = write_lines(tmp_path / "s.txt", LINES)
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", tmp_path / "all.wav", "--srt", tmp_path / "a.srt")
    assert r.code == 0 and "removed 1 unfinished temp file" in r.stderr
    assert not stale.exists()
