"""A single HTML or XHTML file as a book: chapters at ``<h1>``, or at ``<h2>`` when there is a
single ``<h1>`` (then the book's title), as for Markdown."""

from __future__ import annotations

from voiceclone_cli.book.model import Book
from voiceclone_cli.book.sections import number_sections, split_at_headings
from voiceclone_cli.book.xhtml import html_blocks


def read_html(markup: str, default_title: str) -> Book:
    content = html_blocks(markup)
    title, sections = split_at_headings(content.blocks, weak_title=content.title or None, file_title=default_title)
    return Book(title=title, chapters=number_sections(sections))
