"""Subtitles: one cue per sentence, timed to the audio actually written."""

from __future__ import annotations

import re

import soundfile as sf

from voiceclone_cli.output.subtitles import render_srt, render_vtt
from voiceclone_cli.speech import Cue, sentences

TEXT = ("The first sentence is here. A second one follows it! Does a third ask? "
        + " ".join(f"Filler sentence number {i} keeps the text going past one chunk." for i in range(30)))


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    def seconds(stamp: str) -> float:
        h, m, rest = stamp.split(":")
        s, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    cues = []
    for block in text.strip().split("\n\n"):
        number, timing, words = block.split("\n", 2)
        start, end = timing.split(" --> ")
        cues.append((seconds(start), seconds(end), words))
    return cues


def test_srt_and_vtt_format():
    cues = [Cue(0.0, 1.25, "Hello there."), Cue(3661.5, 3662.0, "Line\nbreak --> arrow")]
    assert render_srt(cues) == ("1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
                                "2\n01:01:01,500 --> 01:01:02,000\nLine break -> arrow\n")
    assert render_vtt(cues).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n")


def test_sentences_keep_closing_quotes():
    assert sentences('He said "hi." Then left! Ok?\n\nNext') == ['He said "hi."', "Then left!", "Ok?", "Next"]


def test_say_srt_has_a_cue_per_sentence_in_order_ending_with_the_audio(api_env, cli, sample_wav, tmp_path):
    out, srt, vtt = tmp_path / "out.wav", tmp_path / "out.srt", tmp_path / "out.vtt"
    result = cli(["say", "-s", sample_wav, TEXT, "-o", out, "--srt", srt, "--vtt", vtt])
    assert result.code == 0, result.stderr
    assert len(api_env.requests) > 1  # several chunks, so cross-fades and trimming are in play
    cues = parse_srt(srt.read_text())
    assert [c[2] for c in cues] == sentences(TEXT)
    for (start, end, _), (next_start, _, _) in zip(cues, cues[1:]):
        assert start < end <= next_start
    assert abs(cues[-1][1] - sf.info(out).duration) < 0.3
    assert len(re.findall(" --> ", vtt.read_text())) == len(cues)


def test_a_subtitle_file_that_is_an_input_is_refused_before_any_request(api_env, cli, sample_wav, tmp_path):
    result = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--srt", sample_wav])
    assert result.code == 2 and "voice sample" in result.stderr
    assert not api_env.requests
    wrong = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--srt", tmp_path / "x.vtt"])
    assert wrong.code == 2 and not api_env.requests
