"""Splitting long text into request-sized chunks at natural boundaries.

The service takes at most 1000 characters per request. A chunk boundary is chosen, in order of
preference, at a paragraph or sentence end, then at a clause mark (``; : ,``, a dash or a line
break), then between words, and only for a single token longer than the limit inside the
token (after CJK punctuation if it has any). Adjacent pieces are then packed greedily, so chunks
are as long as the limit allows and the number of requests stays low.

Whitespace inside a chunk is collapsed to single spaces: every word of the input appears once,
in order, and no chunk is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from voiceclone_cli.limits import MAX_TEXT_CHARS

MAX_CHUNK_CHARS = MAX_TEXT_CHARS  # the service's limit per request

# Boundary strength after a word: lower is a better place to cut.
_SENTENCE, _CLAUSE, _WORD = 0, 1, 2

_CLOSERS = "\"')]}»”’"
_SENTENCE_END = re.compile(r"(?:[.!?…]|[。！？])[" + re.escape(_CLOSERS) + r"]*$")
_CLAUSE_END = re.compile(r"[;:,—–][" + re.escape(_CLOSERS) + r"]*$|^[-—–]+$")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs no fig approx e.g i.e a.m p.m u.s cf al".split()
)
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_CJK_BREAK_AFTER = "。！？；，、"


@dataclass(frozen=True)
class _Piece:
    text: str
    glue: str  # what joins it to the previous piece: " " between words, "" inside a token


# The last characters either pattern above can end on: a word ending otherwise is a plain word,
# known without a search (a book has hundreds of thousands of words).
_MARK_ENDS = frozenset(".!?…。！？;:,—–-" + _CLOSERS)


def _word_strength(word: str, line_end: bool) -> int:
    if word[-1] not in _MARK_ENDS:
        return _CLAUSE if line_end else _WORD
    if _SENTENCE_END.search(word):
        stem = word.rstrip(_CLOSERS).rstrip(".").lstrip("\"'([{«“‘").lower()
        if word.rstrip(_CLOSERS).endswith(".") and (
            stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha())
        ):
            return _CLAUSE if line_end else _WORD
        return _SENTENCE
    if line_end or _CLAUSE_END.search(word):
        return _CLAUSE
    return _WORD


def _words_with_strength(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        for line in paragraph.split("\n"):
            words = line.split()
            for i, word in enumerate(words):
                out.append((word, _word_strength(word, line_end=i == len(words) - 1)))
        if out:
            out[-1] = (out[-1][0], _SENTENCE)
    return out


def _split_token(token: str, max_chars: int) -> list[_Piece]:
    """Cut one over-long token, after CJK punctuation when possible, else every max_chars."""
    pieces: list[_Piece] = []
    rest = token
    while len(rest) > max_chars:
        window = rest[:max_chars]
        cut = max(window.rfind(ch) for ch in _CJK_BREAK_AFTER) + 1
        if cut <= 0:
            cut = max_chars
        pieces.append(_Piece(rest[:cut], "" if pieces else " "))
        rest = rest[cut:]
    pieces.append(_Piece(rest, "" if pieces else " "))
    return pieces


def _split_range(words: list[tuple[str, int]], level: int, max_chars: int) -> list[_Piece]:
    """Split a run of words at boundaries no weaker than ``level``; recurse on what is too long."""
    text = " ".join(w for w, _ in words)
    if len(text) <= max_chars:
        return [_Piece(text, " ")]
    if level > _WORD:
        return _split_token(words[0][0], max_chars)
    groups: list[list[tuple[str, int]]] = [[]]
    for word, strength in words:
        groups[-1].append((word, strength))
        if strength <= level:
            groups.append([])
    pieces: list[_Piece] = []
    for group in groups:
        if group:
            pieces.extend(_split_range(group, level + 1, max_chars))
    return pieces


def _clause_pieces(words: list[tuple[str, int]], max_chars: int) -> Iterator[_Piece]:
    """One piece per clause (split further only where a clause exceeds ``max_chars``)."""
    group: list[tuple[str, int]] = []
    for word, strength in words:
        group.append((word, strength))
        if strength <= _CLAUSE:
            yield from _split_range(group, _WORD, max_chars)
            group = []
    if group:
        yield from _split_range(group, _WORD, max_chars)


def iter_chunks(text: str, max_chars: int = MAX_CHUNK_CHARS, first_chars: int | None = None) -> Iterator[str]:
    """Yield chunks of at most ``max_chars`` characters, lazily packed in input order.

    ``first_chars`` makes the first chunk shorter, so a streaming listener hears the start
    sooner: a long opening sentence may end its first chunk at a clause mark, never mid-clause.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    limit = min(first_chars or max_chars, max_chars)
    words = _words_with_strength(text)
    sentence: list[tuple[str, int]] = []
    current = ""

    def sentence_pieces(run: list[tuple[str, int]], first: bool) -> Iterator[_Piece]:
        if first and len(" ".join(w for w, _ in run)) > limit:
            yield from _clause_pieces(run, max_chars)  # a long opening sentence starts at a clause
        else:
            yield from _split_range(run, _CLAUSE, max_chars)

    def pieces() -> Iterator[_Piece]:
        nonlocal sentence
        first = first_chars is not None
        for word, strength in words:
            sentence.append((word, strength))
            if strength == _SENTENCE:
                yield from sentence_pieces(sentence, first)
                sentence, first = [], False
        if sentence:
            yield from sentence_pieces(sentence, first)

    for piece in pieces():
        candidate = current + piece.glue + piece.text if current else piece.text
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                yield current
                limit = max_chars
            current = piece.text
    if current:
        yield current


def chunk_text(text: str, max_chars: int = MAX_CHUNK_CHARS, first_chars: int | None = None) -> list[str]:
    return list(iter_chunks(text, max_chars, first_chars))
