"""Plain-text books: chapters at heading lines, else at form feeds, else one chapter.

A heading line stands alone after a blank line (or at the start), is at most 80 characters,
and is one of:

- ``Chapter``, ``Part`` or ``Book`` and a number: digits (``Chapter 12``), Roman numerals
  (``CHAPTER XII``) or English words up to ninety-nine (``Chapter Twelve``, ``Part One``,
  ``Chapter Twenty-One``), optionally followed by a title (``Chapter 12: The End``,
  ``CHAPTER I. Loomings.``);
- ``Prologue``, ``Epilogue``, ``Preface``, ``Foreword``, ``Afterword``, ``Introduction``,
  ``Interlude`` or ``Appendix``, in any case, optionally followed by a title.

A short line right under a heading line, with a blank line after it, is the chapter's subtitle
(``CHAPTER 1`` / ``The Beginning`` becomes "CHAPTER 1: The Beginning"). Paragraphs are separated
by blank lines; their hard-wrapped lines are joined.
"""

from __future__ import annotations

import re

from voiceclone_cli.book.blocks import Block, squeeze
from voiceclone_cli.book.model import Book
from voiceclone_cli.book.sections import Section, number_sections

_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_NUMBER_WORDS = rf"(?:(?:{_TENS})(?:[- ](?:{_UNITS}))?|{_TEENS}|{_UNITS})"
_ROMAN = r"(?=[MDCLXVI])M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_REST = r"(?:\s*[.:\-—–]\s*(?P<rest>.*)|\s*)"
_HEADING = re.compile(
    rf"^(?:(?:chapter|part|book)\s+(?:\d{{1,4}}|{_ROMAN}|{_NUMBER_WORDS})(?![\w])"
    rf"|prologue|epilogue|preface|foreword|afterword|introduction|interlude|appendix(?:\s+[A-Z\d]{{1,3}})?)"
    rf"{_REST}$",
    re.IGNORECASE,
)
_MAX_HEADING = 80


def _is_heading(line: str) -> bool:
    return len(line) <= _MAX_HEADING and bool(_HEADING.match(line))


def _paragraphs(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(Block(squeeze(" ".join(current))))
            current = []
    return blocks


def _by_headings(lines: list[str]) -> list[Section] | None:
    starts = [
        i for i, line in enumerate(lines)
        if (i == 0 or not lines[i - 1].strip()) and _is_heading(line.strip())
    ]
    if not starts:
        return None
    sections = [Section("Opening", _paragraphs(lines[: starts[0]]), heading=False)]
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        title, body = squeeze(lines[start]), start + 1
        subtitle = lines[body].strip() if body < end else ""
        if subtitle and len(subtitle) <= _MAX_HEADING and (body + 1 == end or not lines[body + 1].strip()):
            title, body = f"{title.rstrip(' .:—–-')}: {squeeze(subtitle)}", body + 1
        sections.append(Section(title, _paragraphs(lines[body:end])))
    return sections


def _by_form_feeds(text: str) -> list[Section] | None:
    if "\f" not in text:
        return None
    sections = []
    for page in text.split("\f"):
        lines = page.strip("\n").split("\n")
        first = lines[0].strip()
        if first and len(first) <= _MAX_HEADING:
            sections.append(Section(squeeze(first), _paragraphs(lines[1:])))
        else:
            sections.append(Section("", _paragraphs(lines)))
    return sections


def title_from_filename(stem: str) -> str:
    return squeeze(stem.replace("_", " ").replace("-", " ")) or stem


def read_plaintext(text: str, title: str) -> Book:
    lines = text.split("\n")
    sections = (_by_headings(lines) or _by_form_feeds(text)
                or [Section(title, _paragraphs(lines), heading=False)])
    return Book(title=title, chapters=number_sections(sections))
