"""From the sections a reader found to the numbered chapters of a ``Book``.

Shared by every format, so that the rules are the same whatever the input:

- a chapter's text does not repeat its title (the book command speaks the title itself): leading
  headings that are part of the title are dropped;
- a section with nothing to say is not a chapter: empty front/back matter (a cover image page)
  is dropped, and an empty chapter (a "Part One" divider) lends its title to the next one
  ("Part One. Chapter 1");
- the kind comes from the book's own markup when it gave one, else from the title;
- text is cleaned with ``normalize_text``; chapters are numbered 1, 2, ... in reading order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voiceclone_cli.book.blocks import Block, end_sentence, join_blocks
from voiceclone_cli.book.kinds import kind_from_title
from voiceclone_cli.book.model import CHAPTER, Chapter
from voiceclone_cli.prepare.text import normalize_text

_WORDS = re.compile(r"\w+")


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    kind: str | None = None  # from the book's markup; None: decided by the title
    heading: bool = True  # begun by a heading of the book (not an opening we made up)


def _words(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def _without_title(blocks: list[Block], title: str) -> list[Block]:
    spoken_title = _words(title)
    start = 0
    while start < len(blocks) and blocks[start].heading and _words(blocks[start].text) in spoken_title:
        start += 1
    return blocks[start:]


def number_sections(sections: list[Section]) -> list[Chapter]:
    chapters: list[Chapter] = []
    carried = ""  # the title of an empty chapter, passed on to the next one
    for section in sections:
        title = normalize_text(section.title).strip() or f"Section {len(chapters) + 1}"
        text = normalize_text(join_blocks(_without_title(section.blocks, title))).strip()
        kind = section.kind or kind_from_title(title)
        if not text:
            if kind == CHAPTER and section.heading:
                carried = f"{end_sentence(carried)} {title}" if carried else title
            continue
        if carried and kind == CHAPTER:
            title, carried = f"{end_sentence(carried)} {title}", ""
        chapters.append(Chapter(len(chapters) + 1, title, text, kind))
    return chapters


def split_at_headings(blocks: list[Block], *, named_title: str | None = None, weak_title: str | None = None,
                      file_title: str) -> tuple[str, list[Section]]:
    """Chapters of a single document (Markdown, HTML): at level-1 headings, or at level 2 when
    there is a single level-1 heading, which is then the book's title.

    The book's title is ``named_title`` (front matter), else that single heading, else
    ``weak_title`` (an HTML ``<title>``), else ``file_title``. Text before the first chapter
    heading is a section titled by the book's title when the document gives one, else
    "Opening"; a document without chapter headings is one chapter with the book's title.
    """
    top = [i for i, block in enumerate(blocks) if block.heading == 1]
    single = blocks[top[0]].title if len(top) == 1 else None
    if single is not None:
        blocks = blocks[: top[0]] + blocks[top[0] + 1 :]
    level = 1 if len(top) > 1 else 2
    book_title = named_title or single or weak_title
    sections = [Section(book_title or "Opening", heading=False)]
    for block in blocks:
        if 0 < block.heading <= level:
            sections.append(Section(block.title))
        else:
            sections[-1].blocks.append(block)
    if len(sections) == 1:
        sections[0].title = book_title or file_title
    return book_title or file_title, sections
