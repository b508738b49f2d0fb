import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceclone_cli.prepare.chunking import MAX_CHUNK_CHARS, chunk_text

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
texty = st.lists(
    st.one_of(words, st.sampled_from([". ", "! ", "? ", ", ", "; ", ": ", "\n", "\n\n", " — ", " ", "Mr. ", "e.g. "])),
    max_size=400,
).map("".join)


def _check_invariants(text, chunks, limit):
    assert all(chunk for chunk in chunks), "no empty chunk"
    assert all(chunk.strip() == chunk and chunk for chunk in chunks)
    assert all(len(chunk) <= limit for chunk in chunks)
    # every word once, in order (a token longer than the limit may be cut inside itself)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())
    if all(len(w) <= limit for w in text.split()):
        assert [w for c in chunks for w in c.split()] == text.split()


@settings(max_examples=300, deadline=None)
@given(texty, st.integers(min_value=1, max_value=200))
def test_chunks_keep_every_word_in_order_and_respect_the_limit(text, limit):
    _check_invariants(text, chunk_text(text, limit), limit)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["Hello there.", "How are you today?", "Fine, thanks; and you:", "x" * 1200]), max_size=30).map(" ".join))
def test_default_limit_with_long_tokens(text):
    _check_invariants(text, chunk_text(text), MAX_CHUNK_CHARS)


def test_whitespace_only_text_gives_no_chunks():
    assert chunk_text(" \n\t ") == []


def test_short_text_is_one_chunk():
    assert chunk_text("  Hello   there.\n") == ["Hello there."]


def test_prefers_sentence_ends():
    s1 = "A" * 40 + " first sentence."
    s2 = "Second, with a comma, sentence here."
    chunks = chunk_text(f"{s1} {s2}", 60)
    assert chunks == [s1, s2]


def test_abbreviations_are_not_sentence_ends():
    text = "Dr. Smith met Mr. Jones. They talked."
    assert chunk_text(text, 25) == ["Dr. Smith met Mr. Jones.", "They talked."]


def test_falls_back_to_clause_marks_then_spaces():
    long_sentence = "one two three, four five six; seven eight nine"
    assert chunk_text(long_sentence, 16) == ["one two three,", "four five six;", "seven eight nine"]
    assert chunk_text("aaaa bbbb cccc dddd", 9) == ["aaaa bbbb", "cccc dddd"]


def test_hard_split_of_a_single_long_token():
    assert chunk_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_paragraph_break_is_a_boundary():
    assert chunk_text("first part\n\nsecond part", 15) == ["first part", "second part"]


def test_cjk_punctuation_used_inside_a_long_token():
    text = "你好世界。" * 5
    chunks = chunk_text(text, 12)
    assert all(c.endswith("。") for c in chunks)
    assert "".join(chunks) == text


def test_invalid_limit():
    with pytest.raises(ValueError):
        chunk_text("x", 0)


@settings(max_examples=200, deadline=None)
@given(texty, st.integers(min_value=10, max_value=200), st.integers(min_value=1, max_value=200))
def test_shorter_first_chunk_keeps_the_invariants(text, limit, first):
    chunks = chunk_text(text, limit, first)
    _check_invariants(text, chunks, limit)
    if chunks:
        smallest_natural_start = chunk_text(text, limit, 1)[0]  # the first clause, alone
        assert len(chunks[0]) <= max(first, len(smallest_natural_start))


def test_first_chunk_is_one_sentence_when_asked():
    text = "Short start. " + "Then much more text follows here. " * 10
    chunks = chunk_text(text, 300, 40)
    assert chunks[0] == "Short start."
    assert all(len(c) <= 300 for c in chunks) and len(chunks[1]) > 250


def test_long_first_sentence_starts_at_a_clause_not_mid_clause():
    text = "When the long opening sentence finally begins, it rambles on and on without end. Next."
    chunks = chunk_text(text, 300, 50)
    assert chunks == ["When the long opening sentence finally begins,",
                      "it rambles on and on without end. Next."]
    no_clauses = "A long opening sentence without a single clause mark in it at all. Next."
    assert chunk_text(no_clauses, 300, 20)[0] == "A long opening sentence without a single clause mark in it at all."


@given(st.lists(st.text(alphabet=st.sampled_from(list("aB1 .!?…。,;:—–-\"')]}»”’([«")), min_size=1, max_size=6),
                min_size=1, max_size=30), st.booleans())
def test_a_words_strength_is_what_the_boundary_patterns_say(words, line_end):
    """The shortcut for words ending in a letter gives what the patterns alone would."""
    from voiceclone_cli.prepare import chunking

    def by_patterns(word):
        if chunking._SENTENCE_END.search(word):
            stem = word.rstrip(chunking._CLOSERS).rstrip(".").lstrip("\"'([{«“‘").lower()
            if word.rstrip(chunking._CLOSERS).endswith(".") and (
                    stem in chunking._ABBREVIATIONS or (len(stem) == 1 and stem.isalpha())):
                return chunking._CLAUSE if line_end else chunking._WORD
            return chunking._SENTENCE
        if line_end or chunking._CLAUSE_END.search(word):
            return chunking._CLAUSE
        return chunking._WORD

    for word in words:
        assert chunking._word_strength(word, line_end) == by_patterns(word), word
