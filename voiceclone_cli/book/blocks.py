"""The unit every reader produces: a block of text (paragraph, heading, list item, cell).

Readers turn their format into blocks; ``sections`` turns blocks into chapters. Spoken, every
line of a block ends in a sentence boundary, so that chunking splits there and the voice falls
at the end of a heading or a list item instead of running on into the next one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PARAGRAPH = 0  # a Block's heading level when it is not a heading

_CLOSERS = "\"')]}»”’›"
_WHITESPACE = re.compile(r"\s+")
_SPACE_BEFORE_MARK = re.compile(r"\s+(?=[.,;:!?…](?:\s|$))")


@dataclass(frozen=True)
class Block:
    text: str  # squeezed lines, joined by newlines where the source broke the line (<br>)
    heading: int = PARAGRAPH  # 1-6 for a heading, PARAGRAPH otherwise

    @property
    def spoken(self) -> str:
        """Every line ends in a sentence boundary."""
        return "\n".join(end_sentence(line) for line in self.text.split("\n"))

    @property
    def title(self) -> str:
        """As a chapter title: one line, boundaries only between its lines."""
        lines = self.text.split("\n")
        return " ".join([end_sentence(line) for line in lines[:-1]] + lines[-1:])


def squeeze(text: str) -> str:
    """One line, single spaces: markup whitespace (wrapping, indentation, nbsp) is not speech,
    nor the space a dropped image or footnote marker leaves before a full stop."""
    return _SPACE_BEFORE_MARK.sub("", _WHITESPACE.sub(" ", text)).strip()


def end_sentence(text: str) -> str:
    """``text`` ending in a sentence boundary: a full stop is added after a final word.

    Text that already ends in punctuation (``.``, ``?``, ``:``, a dash...) is left as it is:
    the paragraph break after it is a chunk boundary anyway, and ``said:.`` reads badly.
    """
    stem = text.rstrip(_CLOSERS)
    if not stem or unicodedata.category(stem[-1]).startswith("P"):
        return text
    return text + "."


def join_blocks(blocks: list[Block]) -> str:
    """A chapter's text: one paragraph per block, separated by blank lines."""
    return "\n\n".join(b.spoken for b in blocks if b.text)
