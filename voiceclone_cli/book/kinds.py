"""Front and back matter: which sections a book run skips unless ``--all-sections``.

The book's own word wins (EPUB 3 landmarks and ``epub:type``, the EPUB 2 guide); without it the
title decides, in English. Dedications, epigraphs, forewords, prefaces, introductions, prologues,
epilogues, afterwords and appendices are read: they are part of the work.
"""

from __future__ import annotations

import re

from voiceclone_cli.book.model import CHAPTER

# EPUB 3 structural semantics (landmarks, epub:type) and EPUB 2 guide types.
_BY_TYPE = {
    "cover": "cover",
    "titlepage": "title-page", "title-page": "title-page", "halftitlepage": "title-page",
    "copyright-page": "copyright", "copyright": "copyright", "imprint": "copyright",
    "toc": "toc", "loi": "toc", "lot": "toc", "loa": "toc", "lov": "toc",
    "index": "index",
    "bibliography": "bibliography",
    "acknowledgements": "acknowledgements", "acknowledgments": "acknowledgements",
    "frontmatter": "front",
    "backmatter": "back", "colophon": "back", "glossary": "back", "notes": "back",
    "endnotes": "back", "rearnotes": "back", "footnotes": "back", "errata": "back",
    "other.backmatter": "back",
}

_BY_TITLE = {
    "cover": "cover", "front cover": "cover", "back cover": "cover", "cover page": "cover",
    "title page": "title-page", "title": "title-page", "half title": "title-page",
    "copyright": "copyright", "copyright page": "copyright", "copyright notice": "copyright",
    "contents": "toc", "table of contents": "toc", "toc": "toc", "list of illustrations": "toc",
    "list of figures": "toc", "list of tables": "toc",
    "index": "index", "general index": "index", "index of names": "index",
    "bibliography": "bibliography", "references": "bibliography", "works cited": "bibliography",
    "further reading": "bibliography",
    "acknowledgements": "acknowledgements", "acknowledgments": "acknowledgements",
    "colophon": "back", "also by the author": "back", "about the publisher": "back",
}
_TITLE_NOISE = re.compile(r"[^\w\s]+")


def kind_from_types(types: str | set[str]) -> str | None:
    """The matter kind named by epub:type values or a guide type, if any names one."""
    values = types.split() if isinstance(types, str) else types
    for value in values:
        kind = _BY_TYPE.get(value.lower().removeprefix("doc-"))
        if kind:
            return kind
    return None


def kind_from_title(title: str) -> str:
    words = " ".join(_TITLE_NOISE.sub(" ", title).lower().split())
    return _BY_TITLE.get(words, CHAPTER)
