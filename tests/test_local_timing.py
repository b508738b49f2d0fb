"""Placing our sentences in Piper's speech from its phoneme alignment (no Piper needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceclone_cli.engines.local.timing import SpokenSentence, sentence_bounds


def spoken(*sentences: str, sound: int = 100, gap: int = 1000, pause: int = 2640) -> list[SpokenSentence]:
    """Piper's sentences as text standing for phonemes: each letter ``sound`` samples, each
    space or mark ``gap``; ``pause`` of silence between sentences (as Piper inserts)."""
    result, at = [], 0
    for n, text in enumerate(sentences):
        if n:
            at += pause
        starts, ends = [], []
        for char in text:
            starts.append(at)
            at += sound if char.isalpha() else gap
            ends.append(at)
        result.append(SpokenSentence(list(text), starts, ends))
    return result


def letters(text: str) -> list[list[str]]:
    return [list(text)]


def test_sentences_piper_also_split_meet_in_the_middle_of_the_pause():
    heard = spoken("ab.", "cde.")
    # "b" ends at 200; "." takes 1000 more, then the pause; "c" starts at 1200 + 2640.
    assert sentence_bounds(["ab.", "cde."], heard, letters) == [(200 + 3840) // 2]


def test_two_of_ours_read_as_one_sentence_meet_between_their_words():
    heard = spoken("dr. smith")  # an abbreviation Piper reads through
    # "r" ends at 200, then "." and " " (2000), "s" starts at 2200.
    assert sentence_bounds(["dr.", "smith"], heard, letters) == [1200]


def test_one_of_ours_piper_splits_in_two_keeps_a_single_boundary():
    heard = spoken("ab;", "cd.", "ef.")
    bounds = sentence_bounds(["ab; cd.", "ef."], heard, lambda text: [list(part) for part in text.split(" ")])
    d_end = heard[1].ends[1]
    e_start = heard[2].starts[0]
    assert bounds == [(d_end + e_start) // 2]


def test_a_word_read_differently_in_context_does_not_lose_the_boundary():
    heard = spoken("the cat sat.", "a dog ran.")
    # Alone, our second sentence's first word is phonemised differently ("ei" for "a").
    ours = {"the cat sat.": [list("the cat sat.")], "a dog ran.": [list("ei dog ran.")]}
    bounds = sentence_bounds(list(ours), heard, ours.__getitem__)
    assert bounds == [(heard[0].ends[-2] + heard[1].starts[0]) // 2]


def test_nothing_to_place_gives_no_bounds():
    assert sentence_bounds(["One."], spoken("one."), letters) == []  # one sentence: nothing to divide
    assert sentence_bounds(["a.", "b."], [], letters) == []  # no alignment from Piper
    assert sentence_bounds(["xy.", "zw."], spoken("ab.", "cd."), letters) == []  # nothing in common


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abc. ", min_size=1, max_size=12), min_size=1, max_size=6),
       st.lists(st.text(alphabet="abc. ", min_size=1, max_size=12), min_size=1, max_size=6))
def test_bounds_are_ordered_inside_the_audio_or_absent(ours, heard_sentences):
    """Whatever the two readings are, the answer is one time per boundary, in order, inside
    the speech, or nothing (character share then)."""
    heard = spoken(*heard_sentences)
    end = heard[-1].ends[-1]
    bounds = sentence_bounds(ours, heard, letters)
    assert bounds == [] or len(bounds) == len(ours) - 1
    assert bounds == sorted(bounds) and all(0 <= b <= end for b in bounds)


def test_power_is_brought_back_on_any_length_of_chunk():
    """The loudness step of the matching keeps the shape of envelopes of any length, down to
    one frame (a chunk shorter than its smoothing window)."""
    import numpy as np

    pytest.importorskip("pyworld", reason="the local extra is not installed")
    from voiceclone_cli.engines.local.matching import _frame_power, _keep_frame_power

    rng = np.random.default_rng(0)
    for frames in (1, 2, 7, 120, 121, 400):
        envelope, source = rng.normal(size=(frames, 16)), rng.normal(size=(frames, 16))
        kept = _keep_frame_power(envelope, source)
        assert kept.shape == envelope.shape and np.isfinite(kept).all()
        # A constant change of power is taken back entirely; the shape of each frame is kept.
        louder = _keep_frame_power(source + 6.0, source)
        assert np.allclose(_frame_power(louder), _frame_power(source))
        assert np.allclose(kept - kept.mean(axis=1, keepdims=True), envelope - envelope.mean(axis=1, keepdims=True))


def test_a_boundary_the_alignment_cannot_place_is_shared_by_characters_between_its_neighbours():
    heard = spoken("ab.", "cd.")
    ours = {"xyz.": [list("qqq.")], "ab.": [list("ab.")], "cd.": [list("cd.")]}  # "xyz." read as nothing heard
    bounds = sentence_bounds(list(ours), heard, ours.__getitem__)
    between_ab_and_cd = (heard[0].ends[1] + heard[1].starts[0]) // 2
    assert bounds == [between_ab_and_cd * 4 // 7, between_ab_and_cd]  # "xyz." and "ab.": 4 and 3 characters
