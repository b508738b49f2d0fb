"""The rows of ``book --list``: what each section is and what speaking it would take."""

from __future__ import annotations

from dataclasses import dataclass

from voiceclone_cli.book.model import Book


@dataclass(frozen=True)
class ListingRow:
    number: int  # what --chapters takes
    title: str
    characters: int  # of the cleaned text (the title not included)
    minutes: float  # estimated, as dry runs estimate (prepare/estimate.py)
    kind: str  # "chapter" or a front/back matter kind
    skipped: bool  # left out of the run (front/back matter without --all-sections)


def listing_rows(book: Book, *, all_sections: bool = False, speed: float = 1.0) -> list[ListingRow]:
    from voiceclone_cli.prepare.estimate import estimate_seconds

    return [
        ListingRow(c.number, c.title, len(c.text), estimate_seconds(len(c.text), speed) / 60, c.kind,
                   c.is_matter and not all_sections)
        for c in book.chapters
    ]
