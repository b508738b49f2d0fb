"""Pause markup: [pause ...] and SSML <break/> become Pause segments, never text."""

from __future__ import annotations

import pytest

from voiceclone_cli.errors import ExitCode, TextError
from voiceclone_cli.prepare.markup import MAX_PAUSE_SECONDS, Pause, parse_markup


@pytest.mark.parametrize(
    ("tag", "seconds"),
    [
        ("[pause 1.5s]", 1.5),
        ("[pause 300ms]", 0.3),
        ("[pause 2]", 2.0),
        ("[PAUSE  2 s ]", 2.0),
        ("[ pause: .5 seconds]", 0.5),
        ("[pause 250 milliseconds]", 0.25),
        ('<break time="500ms"/>', 0.5),
        ('<break time="1.5s"/>', 1.5),
        ("<BREAK TIME='2s' />", 2.0),
        ('<break strength="x-weak"/>', 0.1),
        ('<break strength="weak"/>', 0.25),
        ('<break strength="medium"/>', 0.5),
        ('<break strength="strong"/>', 1.0),
        ('<break strength="x-strong"/>', 2.0),
        ("<break/>", 0.5),
        ('<break strength="weak" time="3s"/>', 3.0),  # time wins, as in SSML
    ],
)
def test_each_form_is_a_pause_of_its_length(tag, seconds):
    assert parse_markup(f"Before {tag} after.") == ["Before ", Pause(seconds), " after."]


def test_consecutive_pauses_merge_and_whitespace_between_them_is_not_speech():
    segments = parse_markup('One. [pause 1s] [pause 500ms]\n<break time="250ms"/> Two.')
    assert segments == ["One. ", Pause(1.75), " Two."]


def test_pauses_at_the_edges_and_text_without_markup_in_between():
    assert parse_markup("[pause 1s]Hello[pause 2s]") == [Pause(1.0), "Hello", Pause(2.0)]


def test_zero_length_pauses_vanish_and_split_nothing():
    assert parse_markup('Left [pause 0s] middle <break strength="none"/> right [pause 1s]') == [
        "Left  middle  right ", Pause(1.0)]


def test_words_that_merely_contain_pause_are_text():
    text = "The pauses [paused] were long; <breaking> news."
    assert parse_markup(text + " [pause 1s]") == [text + " ", Pause(1.0)]


@pytest.mark.parametrize(
    "tag",
    ["[pause abc]", "[pause]", "[pause 2 minutes]", "[pause -1s]", '<break time="soon"/>',
     '<break strength="huge"/>', '<break volume="2"/>', "<break time=2s/>"],
)
def test_a_malformed_tag_is_refused_naming_it_and_its_line(tag):
    with pytest.raises(TextError) as caught:
        parse_markup(f"First line.\nSecond {tag} line.")
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert tag in caught.value.message and "line 2" in caught.value.message
    assert "--no-markup" in caught.value.hint


def test_a_pause_longer_than_the_cap_is_refused():
    assert parse_markup(f"[pause {MAX_PAUSE_SECONDS:g}s]") == [Pause(MAX_PAUSE_SECONDS)]
    with pytest.raises(TextError, match="61 s of silence"):
        parse_markup("x [pause 61s]")
    with pytest.raises(TextError):
        parse_markup("x [pause 60001ms]")
