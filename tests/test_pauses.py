"""Pause markup in the speech pipeline: exact silence, never sent, always splitting a chunk."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import read_audio
from voiceclone_cli.prepare import markup
from voiceclone_cli.prepare.markup import Pause


def longest_silence(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """(start, length) in seconds of the longest run of exact digital silence."""
    silent = np.concatenate([[False], samples == 0, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return starts[longest] / rate, (ends[longest] - starts[longest]) / rate


@pytest.fixture
def two_segments(monkeypatch):
    """A hand-made parse: "[pause 1.5s]" between two sentences (part A writes the parser)."""
    def parse(text):
        first, _, second = text.partition("[pause 1.5s]")
        return [first.strip(), Pause(1.5), second.strip()]

    monkeypatch.setattr(markup, "parse_markup", parse)


def test_a_pause_is_exact_silence_between_its_chunks_and_never_sent(two_segments, api_env, cli, sample_wav, tmp_path):
    out = tmp_path / "out.wav"
    result = cli(["say", "-s", sample_wav, "Before the pause. [pause 1.5s] After the pause.", "-o", out])
    assert result.code == 0, result.stderr
    assert sorted(r.fields["text"] for r in api_env.requests) == ["After the pause.", "Before the pause."]
    samples, rate = read_audio(out)
    start, length = longest_silence(samples, rate)
    # The pause itself, plus the short silent pads the joiner keeps at each chunk edge (<= 0.12 s each).
    assert 1.5 <= length <= 1.5 + 2 * 0.12 + 0.01
    first_chunk = len("Before the pause.") * 0.02  # the fake server's tone length
    assert first_chunk < start < first_chunk + 0.3


def test_no_markup_sends_the_text_as_it_is(two_segments, api_env, cli, sample_wav, tmp_path):
    text = "Before the pause. [pause 1.5s] After the pause."
    result = cli(["say", "-s", sample_wav, text, "-o", tmp_path / "out.wav", "--no-markup"])
    assert result.code == 0, result.stderr
    assert [r.fields["text"] for r in api_env.requests] == [text]
    samples, rate = read_audio(tmp_path / "out.wav")
    assert longest_silence(samples, rate)[1] < 0.5


def test_pauses_at_the_edges_and_dry_runs_count_only_text(monkeypatch, api_env, cli, sample_wav, tmp_path):
    monkeypatch.setattr(markup, "parse_markup", lambda text: [Pause(0.5), text, Pause(0.25)])
    out = tmp_path / "out.wav"
    assert cli(["say", "-s", sample_wav, "Hello there.", "-o", out]).code == 0
    samples, rate = read_audio(out)
    assert np.all(samples[: int(0.5 * rate)] == 0) and np.all(samples[-int(0.25 * rate):] == 0)
    dry = cli(["say", "-s", sample_wav, "Hello there.", "-o", out, "--dry-run", "--json"])
    assert '"chunks": 1,' in dry.out and '"characters": 12,' in dry.out


def test_text_that_is_only_pauses_is_refused_before_any_request(monkeypatch, api_env, cli, sample_wav, tmp_path):
    monkeypatch.setattr(markup, "parse_markup", lambda text: [Pause(1.0)])
    result = cli(["say", "-s", sample_wav, "[pause 1s]", "-o", tmp_path / "out.wav"])
    assert result.code == 3 and "empty" in result.stderr
    assert not api_env.requests and not (tmp_path / "out.wav").exists()


@pytest.mark.skipif(markup.parse_markup("a [pause 1s] b") == ["a [pause 1s] b"],
                    reason="needs the pause parser of prepare.markup (book part A)")
def test_real_markup_never_reaches_the_engine(api_env, cli, sample_wav, tmp_path):
    text = 'One. [pause 300ms] Two. <break time="500ms"/> Three.'
    assert cli(["say", "-s", sample_wav, text, "-o", tmp_path / "out.wav"]).code == 0
    sent = " ".join(r.fields["text"] for r in api_env.requests)
    assert "pause" not in sent and "break" not in sent and len(api_env.requests) == 3


class _Rules:
    """A hand-made lexicon (prepare.lexicon is book part A's): replaces one word."""

    def apply(self, text: str) -> str:
        return text.replace("GIF", "jiff")


def test_a_lexicon_rewrites_the_words_sent_and_never_the_markup(two_segments, api_env, sample_wav, tmp_path):
    import voiceclone_cli as vc
    from voiceclone_cli.output.sinks import AudioFileSink
    from voiceclone_cli.speech import speak

    engine = vc.get_engine("remote")
    try:
        result = speak("A GIF. [pause 1.5s] Another GIF.", engine, engine.prepare_voice(vc.prepare_sample(sample_wav)),
                       AudioFileSink(tmp_path / "out.wav"), lexicon=_Rules())
    finally:
        engine.close()
    assert sorted(r.fields["text"] for r in api_env.requests) == ["A jiff.", "Another jiff."]
    assert [cue.text for cue in result.cues] == ["A jiff.", "Another jiff."]
