"""Markdown books: chapters at ``#`` headings (``##`` when a single ``#`` is the book title).

Read for the ear, not rendered: code (fenced or indented), images, HTML tags, link targets,
reference and footnote definitions are dropped; links read as their text; emphasis markers go;
list items, table cells and headings are blocks of their own. A YAML front matter block gives
``title:`` and ``author:``.
"""

from __future__ import annotations

import html
import re

from voiceclone_cli.book.blocks import PARAGRAPH, Block, squeeze
from voiceclone_cli.book.model import Book
from voiceclone_cli.book.sections import number_sections, split_at_headings

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?\s*$")
_ATX_CLOSING = re.compile(r"\s+#+$")
_SETEXT_1 = re.compile(r"^\s{0,3}=+\s*$")
_SETEXT_2 = re.compile(r"^\s{0,3}-+\s*$")
_THEMATIC = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_FIELD = re.compile(r"^(title|author)\s*:\s*(.*?)\s*$", re.MULTILINE | re.IGNORECASE)

_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_INLINE = [
    (re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])"), ""),  # images
    (re.compile(r"\[\^[^\]]+\]"), ""),  # footnote markers
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](url)
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # [text][ref]
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # HTML tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # inline code
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"\*(?=\S)(.+?)(?<=\S)\*"), r"\1"),  # emphasis
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),  # emphasis (not snake_case)
    (re.compile(r"~~(.+?)~~"), r"\1"),  # strikethrough
]


def inline(text: str) -> str:
    """Markdown inline markup to the words it shows."""
    escaped: list[str] = []

    def hide(match: re.Match[str]) -> str:
        escaped.append(match.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    text = _ESCAPED.sub(hide, text)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    text = re.sub("\ue000(\\d+)\ue001", lambda m: escaped[int(m.group(1))], text)
    return squeeze(html.unescape(text))


def front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {k.lower(): v.strip("\"'") for k, v in _FRONT_FIELD.findall(match.group(1))}
    return fields, text[match.end():]


def markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines: list[str] = []  # the paragraph or list item being read
    kind = "paragraph"  # or "item": an item is not a setext heading's text
    fence: str | None = None
    in_code = False  # an indented code block
    previous_blank = True

    def flush() -> None:
        nonlocal lines, kind
        spoken = inline(" ".join(lines))
        if spoken:
            blocks.append(Block(spoken))
        lines, kind = [], "paragraph"

    for raw in _COMMENT.sub("", text).split("\n"):
        if fence:
            if raw.strip().startswith(fence):
                fence = None
            continue
        blank = not raw.strip()
        if in_code and (blank or raw.startswith(("    ", "\t"))):
            continue
        in_code = False
        if raw.startswith(("    ", "\t")) and previous_blank and not blank and kind != "item":
            flush()
            in_code = True
            continue
        previous_blank = blank
        line = _QUOTE.sub("", raw)
        if fence_match := _FENCE.match(line):
            flush()
            fence = fence_match.group(1)[:3]
        elif not line.strip() or _THEMATIC.match(line) and not (lines and _SETEXT_2.match(line)):
            flush()
        elif heading := _ATX.match(line):
            flush()
            title = inline(_ATX_CLOSING.sub("", heading.group(2) or ""))
            if title:
                blocks.append(Block(title, len(heading.group(1))))
        elif lines and kind == "paragraph" and (_SETEXT_1.match(line) or _SETEXT_2.match(line)):
            title = inline(" ".join(lines))
            lines = []
            if title:
                blocks.append(Block(title, 1 if "=" in line else 2))
        elif _DEFINITION.match(line):
            flush()
        elif _TABLE_ROW.match(line):
            flush()
            if not _TABLE_RULE.match(line):
                blocks.extend(Block(cell) for cell in map(inline, line.strip().strip("|").split("|")) if cell)
        elif item := _LIST_ITEM.match(line):
            flush()
            lines, kind = [item.group(1)], "item"
        else:
            lines.append(line)
    if not fence:
        flush()
    return [b for b in blocks if b.text or b.heading != PARAGRAPH]


def read_markdown(text: str, default_title: str) -> Book:
    fields, body = front_matter(text)
    title, sections = split_at_headings(markdown_blocks(body), named_title=fields.get("title") or None,
                                        file_title=default_title)
    return Book(title=title, author=fields.get("author") or None,
                chapters=number_sections(sections))
