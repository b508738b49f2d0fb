"""When each sentence of a chunk is heard in Piper's audio, from Piper's own alignment.

Subtitles need the moment one sentence gives way to the next. Sharing a chunk's time by
characters misplaces it (a short "Oh." before a long sentence is spoken slower per character,
and the pause after it is real silence). Piper knows how many samples each phoneme got, so
the local engine can say where the words are.

Our sentences (``prepare.sentences``) and Piper's (espeak-ng's clauses) are not always the
same: espeak may split where we do not, or read through a full stop we split at. So each of
our sentences is phonemised on its own and the phonemes are aligned with what Piper spoke
(``difflib``: the two sequences are nearly always identical, and differ only around the odd
word read differently in context). A boundary is then the middle of the longest silence
between the last sound of one sentence and the first sound of the next: the pause, where
there is one.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

_SILENT_MARKS = frozenset("ˈˌːˑ")  # stress and length marks: part of a sound, not one


@dataclass(frozen=True)
class SpokenSentence:
    """One sentence as Piper spoke it: its phonemes and their sample spans in the chunk."""

    phonemes: list[str]
    starts: list[int]
    ends: list[int]


def _sounds(phonemes: Sequence[str]) -> list[bool]:
    """Which phonemes are sounds (not spaces, punctuation or marks that only modify one)."""
    return [bool(p) and unicodedata.category(p[0])[0] == "L" and p not in _SILENT_MARKS for p in phonemes]


def sentence_bounds(ours: Sequence[str], spoken: Sequence[SpokenSentence],
                    phonemize: Callable[[str], list[list[str]]], total: int | None = None) -> list[int]:
    """The sample where each of ``ours`` gives way to the next (``len(ours) - 1`` of them), or
    ``[]`` when nothing can be placed (then subtitles fall back to character share).

    A boundary the alignment cannot place (a sentence espeak reads only in context, such as a
    lone ":") is put by character share between the placed ones around it; ``total`` is the
    chunk's length in samples (default: where Piper's last phoneme ends).
    """
    if len(ours) < 2 or not spoken:
        return []
    heard: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for sentence in spoken:
        heard += sentence.phonemes
        starts += sentence.starts
        ends += sentence.ends
    if not heard:
        return []
    wanted: list[str] = []
    marks: list[int] = []  # where each of our sentences after the first begins in ``wanted``
    for n, text in enumerate(ours):
        if n:
            marks.append(len(wanted))
        for phonemes in phonemize(text):
            wanted += phonemes
    # Our phoneme index -> Piper's, for every sound the two agree on.
    mapped: dict[int, int] = {}
    is_sound = _sounds(heard)
    for a, b, size in SequenceMatcher(None, wanted, heard, autojunk=False).get_matching_blocks():
        for k in range(size):
            if is_sound[b + k]:
                mapped[a + k] = b + k
    if not mapped:
        return []
    order = sorted(mapped)
    sounds = [n for n, sound in enumerate(is_sound) if sound]
    placed: list[int | None] = []
    previous = 0  # the last boundary placed: boundaries never go back in time
    for mark in marks:
        split = bisect_left(order, mark)
        if split == 0 or split == len(order):
            placed.append(None)
            continue
        last, first = mapped[order[split - 1]], mapped[order[split]]
        # Sounds the two readings disagree on may lie between: the sentences meet at the
        # longest silence among them (a pause, where there is one).
        between = sounds[bisect_left(sounds, last): bisect_left(sounds, first) + 1]
        gap, end, start = max((starts[b] - ends[a], ends[a], starts[b]) for a, b in zip(between, between[1:]))
        if gap < 0 or end < previous:
            placed.append(None)
            continue
        previous = (end + start) // 2
        placed.append(previous)
    if all(bound is None for bound in placed):
        return []
    return _fill_by_characters(placed, [len(text) for text in ours], total if total is not None else ends[-1])


def _fill_by_characters(placed: list[int | None], lengths: list[int], total: int) -> list[int]:
    """``placed`` with each missing boundary put by character share between its neighbours."""
    edges: list[int | None] = [0, *placed, max(total, max((b for b in placed if b is not None), default=0))]
    known = [n for n, edge in enumerate(edges) if edge is not None]
    for left, right in zip(known, known[1:]):
        start, end = edges[left], edges[right]
        chars = lengths[left:right]
        weight = sum(chars) or 1
        for n in range(left + 1, right):
            edges[n] = start + (end - start) * sum(chars[: n - left]) // weight
    return [int(edge) for edge in edges[1:-1]]
