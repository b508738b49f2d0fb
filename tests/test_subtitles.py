"""Subtitles: one cue per sentence, timed to the audio actually written."""

from __future__ import annotations

import re

import numpy as np
import pytest

import soundfile as sf

from tests.conftest import RecordingSink
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


def test_titles_and_initials_end_no_sentence():
    text = ("Mr. Smith met Dr. Jones. J. R. R. Tolkien wrote it, e.g. this one. So did I. No. "
            "I won't.\n\nMrs.\n\nNext")
    assert sentences(text) == ["Mr. Smith met Dr. Jones.", "J. R. R. Tolkien wrote it, e.g. this one.",
                               "So did I.", "No.", "I won't.", "Mrs.", "Next"]


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_engine_sentence_times_are_moved_as_the_joiner_moves_the_chunk():
    """Where an engine says its sentences meet, the cue boundary is that moment in the output:
    after the chunk's leading silence is trimmed and it is cross-faded onto the one before."""
    from voiceclone_cli.audio.wav import Audio
    from voiceclone_cli.speech import assemble

    rate = 8000
    quiet = lambda s: np.zeros(int(s * rate), np.float32)  # noqa: E731
    first = Audio(np.concatenate([_tone(1.0, rate), quiet(0.5)]), rate)
    # 1 s of leading silence (trimmed to the 0.12 s pad), "Hi." for 0.2 s, a pause, a long sentence.
    second = Audio(np.concatenate([quiet(1.0), _tone(0.2, rate), quiet(0.6), _tone(2.0, rate), quiet(0.3)]),
                   rate, sentence_bounds=(1.5,))
    items = ["First sentence here.", "Hi. A much longer sentence follows the short one here."]
    result = assemble(items, iter([first, second]), RecordingSink())
    hi, longer = result.cues[1], result.cues[2]
    assert hi.text == "Hi." and hi.end == longer.start
    # The first chunk is heard for 1.0 s of tone + its 0.12 s pad; the second is cross-faded
    # 0.03 s into that, with 0.88 s of its leading silence trimmed, so its 1.5 s is heard at
    # 1.12 - 0.03 + 1.5 - 0.88 (to a 10 ms frame: trimming works in frames).
    assert hi.end == pytest.approx(1.71, abs=0.011)
    share = hi.start + (longer.end - hi.start) * len("Hi.") / len(items[1].replace(" ", "", 1))
    assert share < 1.09 + 0.12 + 0.2  # sharing by characters would have cut "Hi." off mid-word


def test_engine_times_that_do_not_fit_the_sentences_fall_back_to_characters():
    from voiceclone_cli.audio.wav import Audio
    from voiceclone_cli.speech import assemble

    rate = 8000
    text = "One two three. Four five six seven eight nine."
    for nonsense in ((0.5, 1.0), (float("nan"),), (float("inf"),)):  # two bounds for two sentences; not numbers
        audio = Audio(_tone(2.0, rate), rate, sentence_bounds=nonsense)
        first, second = assemble([text], iter([audio]), RecordingSink()).cues
        assert first.end == second.start
        assert first.end / second.end == pytest.approx(14 / (14 + 31), abs=0.01)


def test_subtitles_to_a_fifo_are_written_into_it_not_renamed_over_it(api_env, cli, sample_wav, tmp_path):
    """Atomic replacement renames a temp file over the target: over a FIFO it would leave a
    plain file (and run as root over /dev/null, replace /dev/null itself). A FIFO or a
    character device is written in place."""
    import os
    import stat
    import threading

    fifo = tmp_path / "cues.srt"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = cli(["say", "-s", sample_wav, "One. Two.", "-o", tmp_path / "o.wav", "--srt", fifo])
    reader.join(5 if stat.S_ISFIFO(os.stat(fifo).st_mode) else 0)
    assert result.code == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [c[2] for c in parse_srt(read[0].decode())] == ["One.", "Two."]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_atomic_writes_go_into_a_fifo_and_refuse_a_socket(tmp_path):
    import os
    import socket
    import stat
    import threading

    from voiceclone_cli.output.atomic import atomic_write_bytes

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    atomic_write_bytes(fifo, b"in place")
    reader.join(5 if stat.S_ISFIFO(os.stat(fifo).st_mode) else 0)
    assert read == [b"in place"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(OSError, match="not a regular file"):
            atomic_write_bytes(tmp_path / "sock", b"x")
        assert stat.S_ISSOCK(os.stat(tmp_path / "sock").st_mode)
