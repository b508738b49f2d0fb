"""``read_book``: any supported book file as a ``Book``, chosen by its extension."""

from __future__ import annotations

from pathlib import Path

from voiceclone_cli.book.model import Book
from voiceclone_cli.errors import InputError, open_error

SUPPORTED = (".epub", ".md", ".markdown", ".txt", ".html", ".htm", ".xhtml")


def read_book(path: Path) -> Book:
    """Chapters in reading order, numbered, front and back matter marked; text cleaned.

    Raises ``InputError`` (exit 3) for a file that is missing, of another type, not UTF-8
    (EPUB documents: not in the encoding they declare), damaged, hostile or DRM-protected.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(
            f"cannot read {path} as a book: unsupported file type {suffix or '(no extension)'}",
            hint="give an .epub, .md/.markdown, .txt or .html/.htm/.xhtml file",
        )
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "not found"
        raise InputError(f"book file {what}: {path}", hint="check the path")
    if suffix == ".epub":
        from voiceclone_cli.book.epub import read_epub

        return read_epub(path)
    text = _read_text(path, suffix)
    from voiceclone_cli.book.plaintext import read_plaintext, title_from_filename

    title = title_from_filename(path.stem)
    if suffix in (".md", ".markdown"):
        from voiceclone_cli.book.markdown import read_markdown

        book = read_markdown(text, title)
    elif suffix == ".txt":
        book = read_plaintext(text, title)
    else:
        from voiceclone_cli.book.htmlfile import read_html

        book = read_html(text, title)
    if not book.chapters:
        raise InputError(f"{path} has no text to read", hint="check it is the right file")
    return book


def _read_text(path: Path, suffix: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise open_error(exc, "book", path, "the BOOK argument") from None
    if suffix in (".html", ".htm", ".xhtml"):
        from voiceclone_cli.book.xhtml import decode_markup, refuse_entity_declarations

        text = decode_markup(data, str(path))
        refuse_entity_declarations(text, str(path))
        return text
    from voiceclone_cli.prepare.text import decode_text_bytes

    return decode_text_bytes(data, str(path)).replace("\r\n", "\n").replace("\r", "\n")
