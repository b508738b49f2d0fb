"""A chunk's sentences: what a subtitle cue shows, and what the local engine times.

Split after ``.!?…`` (and their CJK forms), with any closing quote or bracket kept on the
sentence, and at blank lines. A full stop after a title (``Mr.``, ``Dr.``, ``St.``...), after
``e.g.``/``i.e.`` or after a capital initial (``J. R. R. Tolkien``) ends no sentence: a cue
reading "Mr." alone helps nobody, and speech engines read through them too.
"""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"""(?:(?<=[.!?…。！？])|(?<=[.!?…。！？]["'”’»)\]]))\s+""")

# The last word of a piece, when it is an abbreviation that never ends a sentence. "No." and
# "I." are left out on purpose: both end sentences ("No. I won't." / "So did I.").
_NOT_AN_END = re.compile(
    r"""(?:^|[\s("'“‘])(?:(?i:mrs?|ms|mx|dr|prof|st|sr|jr|mt|vs|cf|fig|e\.g|i\.e)|[A-HJ-Z](?:\.[A-Z])*)\.$"""
)


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, in order (chunks end at sentence ends, so none is
    split between chunks)."""
    parts: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        pending = ""
        for piece in _SENTENCE_END.split(paragraph):
            piece = piece.strip()
            if not piece:
                continue
            pending = f"{pending} {piece}" if pending else piece
            if not _NOT_AN_END.search(pending):
                parts.append(pending)
                pending = ""
        if pending:
            parts.append(pending)
    return parts
