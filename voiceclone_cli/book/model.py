"""What a book is to voiceclone: its metadata and its chapters in reading order."""

from __future__ import annotations

from dataclasses import dataclass, field

CHAPTER = "chapter"
# Front and back matter: skipped unless --all-sections.
MATTER_KINDS = ("cover", "title-page", "copyright", "toc", "index", "bibliography",
                "acknowledgements", "front", "back")


@dataclass(frozen=True)
class Chapter:
    number: int  # 1-based, over every section in reading order: the number --list shows
    title: str
    text: str  # cleaned text; paragraphs, headings and list items end in sentence boundaries
    kind: str = CHAPTER  # CHAPTER, or one of MATTER_KINDS

    @property
    def is_matter(self) -> bool:
        return self.kind != CHAPTER


@dataclass
class Book:
    title: str
    author: str | None = None
    language: str | None = None
    cover: bytes | None = None  # image bytes, for m4b artwork
    cover_mime: str | None = None
    chapters: list[Chapter] = field(default_factory=list)

    def selected(self, *, all_sections: bool = False, numbers: set[int] | None = None) -> list[Chapter]:
        """The chapters a run speaks: front/back matter only with ``all_sections``; ``numbers``
        (from ``--chapters``) picks among them."""
        chosen = [c for c in self.chapters if all_sections or not c.is_matter]
        if numbers is not None:
            chosen = [c for c in chosen if c.number in numbers]
        return chosen
