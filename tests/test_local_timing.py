"""Placing our sentences in Piper's speech from its phoneme alignment (no Piper needed)."""

from __future__ import annotations

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
