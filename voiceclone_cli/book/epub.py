"""EPUB 2 and 3: the spine's reading order, titles from the nav document or NCX.

A book file is untrusted input, so reading it is bounded: at most ``MAX_MEMBER_BYTES`` are
decompressed from one member and ``MAX_TOTAL_BYTES`` from the whole book (zip bombs); hrefs are
resolved inside the book and one that climbs out of it is ignored; markup is read by
``html.parser`` (no DTD, no external entity, no entity expansion: see ``xhtml``). One content
document is held at a time; only its text is kept.

Sections: a spine document listed in the table of contents starts a chapter with the TOC's
title, and a TOC entry pointing into a document (``ch.xhtml#part2``) starts one where that id
is. A document the TOC does not list continues the chapter before it (books split long chapters
over several files) unless it opens with a heading or is marked as front/back matter; it is then
a chapter titled by its first heading. Spine items marked ``linear="no"`` (notes, answer pages)
are not read. A spine item missing from the archive is skipped with a warning.
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

from voiceclone_cli.book.blocks import Block, squeeze
from voiceclone_cli.book.kinds import kind_from_types
from voiceclone_cli.book.model import Book
from voiceclone_cli.book.sections import Section, number_sections
from voiceclone_cli.book.xhtml import (
    CONVERT_HINT,
    Element,
    decode_markup,
    html_blocks,
    parse_tree,
    refuse_entity_declarations,
)
from voiceclone_cli.errors import InputError

log = logging.getLogger("voiceclone.book")

MAX_MEMBER_BYTES = 32 * 1024 * 1024  # a chapter of 32 MB of XHTML would be some 30,000 pages
MAX_TOTAL_BYTES = 256 * 1024 * 1024

# Font obfuscation (IDPF, Adobe) only scrambles embedded fonts: such books are not DRM-protected.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#rc"}


class _Archive:
    """Bounded reads from the zip: every byte taken out of it is counted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
            raise InputError(f"{path} is not a valid EPUB (not a readable zip archive)",
                             hint=CONVERT_HINT) from None
        self.names = set(self.zip.namelist())
        self.total = 0

    def read(self, name: str) -> bytes:
        info = self.zip.getinfo(name)
        if info.file_size > MAX_MEMBER_BYTES:
            raise self._too_big(name)
        try:
            with self.zip.open(info) as member:
                data = member.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
            raise InputError(f"{self.path} is damaged: cannot read {name} ({exc})", hint=CONVERT_HINT) from None
        self.total += len(data)
        if len(data) > MAX_MEMBER_BYTES or self.total > MAX_TOTAL_BYTES:
            raise self._too_big(name)
        return data

    def _too_big(self, name: str) -> InputError:
        return InputError(
            f"{self.path} expands to more than voiceclone reads from a book "
            f"({MAX_MEMBER_BYTES // 2**20} MB per file, {MAX_TOTAL_BYTES // 2**20} MB in all; at {name})",
            hint="a real book is far smaller: the file may be a zip bomb",
        )

    def text(self, name: str) -> str:
        return decode_markup(self.read(name), f"{name} in {self.path}")

    def tree(self, name: str) -> Element:
        origin = f"{name} in {self.path}"
        text = decode_markup(self.read(name), origin)
        refuse_entity_declarations(text, origin)
        return parse_tree(text)


def _resolve(base: str, href: str) -> tuple[str, str] | None:
    """(path in the zip, fragment) of an href, or None for one that points outside the book."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path:  # "#id": in the document itself
        return base, unquote(parts.fragment)
    if path.startswith("/"):
        log.warning("ignoring %s: an absolute path in a book", href)
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base), path))
    if joined == ".." or joined.startswith("../"):
        log.warning("ignoring %s: it points outside the book", href)
        return None
    return joined, unquote(parts.fragment)


class _Package:
    """The OPF: metadata, manifest, spine, guide; and the TOC and landmarks it points to."""

    def __init__(self, archive: _Archive, opf_path: str) -> None:
        self.archive = archive
        self.opf_path = opf_path
        opf = archive.tree(opf_path)
        self.items: dict[str, tuple[str, str, set[str]]] = {}  # id -> (path, media type, properties)
        for item in opf.iter("item"):
            target = _resolve(opf_path, item.get("href"))
            if item.get("id") and target and target[0]:
                self.items[item.get("id")] = (target[0], item.get("media-type"), set(item.get("properties").split()))
        metadata = opf.find("metadata") or opf
        self.title = _first_text(metadata, "title")
        self.author = _first_text(metadata, "creator")
        self.language = _first_text(metadata, "language")
        spine = opf.find("spine") or Element("spine", {})
        self.spine = [self.items[ref.get("idref")][0] for ref in spine.iter("itemref")
                      if ref.get("idref") in self.items and ref.get("linear", "yes").lower() != "no"]
        self.ncx_id = spine.get("toc")
        self.kinds: dict[str, str] = {}  # path -> matter kind, from the guide and the landmarks
        for reference in opf.iter("reference"):
            self._mark(opf_path, reference.get("href"), reference.get("type"))
        self.cover_id = next((i for i, (_, _, props) in self.items.items() if "cover-image" in props), None)
        for meta in metadata.iter("meta"):
            if meta.get("name").lower() == "cover" and meta.get("content") in self.items:
                self.cover_id = self.cover_id or meta.get("content")
        self.toc: dict[str, list[tuple[str, str]]] = {}  # path -> [(fragment, title)] in order
        self._read_toc()

    def _mark(self, base: str, href: str, types: str) -> None:
        target = _resolve(base, href)
        kind = kind_from_types(types)
        if target and kind:
            self.kinds.setdefault(target[0], kind)

    def _add_entry(self, base: str, href: str, title: str) -> None:
        target = _resolve(base, href)
        title = squeeze(title)
        if target and target[0] and title:
            self.toc.setdefault(target[0], []).append((target[1], title))

    def _read_toc(self) -> None:
        nav = next((path for path, _, props in self.items.values() if "nav" in props), None)
        if nav and nav in self.archive.names:
            tree = self.archive.tree(nav)
            for element in tree.iter("nav"):
                types = element.get("type").split()
                for link in element.iter("a"):
                    if "toc" in types:
                        self._add_entry(nav, link.get("href"), link.text)
                    elif "landmarks" in types:
                        self._mark(nav, link.get("href"), link.get("type"))
        if self.toc:
            return
        ncx = self.items.get(self.ncx_id or "", None) or next(
            (item for item in self.items.values() if item[1] == "application/x-dtbncx+xml"), None)
        if ncx and ncx[0] in self.archive.names:
            for point in self.archive.tree(ncx[0]).iter("navpoint"):
                label, content = point.find("text"), point.find("content")
                if label is not None and content is not None:
                    self._add_entry(ncx[0], content.get("src"), label.text)

    def cover(self) -> tuple[bytes | None, str | None]:
        if self.cover_id is None:
            return None, None
        path, mime, _ = self.items[self.cover_id]
        if path not in self.archive.names:
            log.warning("the cover image %s is missing from the book", path)
            return None, None
        return self.archive.read(path), mime or None


def _first_text(element: Element, tag: str) -> str | None:
    found = element.find(tag)
    return squeeze(found.text) or None if found is not None else None


def _refuse_drm(archive: _Archive) -> None:
    if "META-INF/encryption.xml" not in archive.names:
        return
    tree = archive.tree("META-INF/encryption.xml")
    for data in tree.iter("encrypteddata"):
        method = data.find("encryptionmethod")
        algorithm = (method.get("algorithm") or "").lower() if method is not None else ""
        if algorithm not in _FONT_OBFUSCATION:
            raise InputError(
                f"{archive.path} is DRM-protected: its content is encrypted",
                hint="voiceclone reads DRM-free books only (e.g. from the publisher or Project Gutenberg)",
            )


def _package_path(archive: _Archive) -> str:
    if "META-INF/container.xml" in archive.names:
        for rootfile in archive.tree("META-INF/container.xml").iter("rootfile"):
            path = rootfile.get("full-path")
            if path in archive.names:
                return path
    candidates = sorted(name for name in archive.names if name.lower().endswith(".opf"))
    if not candidates:
        raise InputError(f"{archive.path} is not a valid EPUB: it has no package document (.opf)",
                         hint=CONVERT_HINT)
    return candidates[0]


def read_epub(path: Path) -> Book:
    archive = _Archive(path)
    with archive.zip:
        _refuse_drm(archive)
        package = _Package(archive, _package_path(archive))
        sections: list[Section] = []
        for document in package.spine:
            if document not in archive.names:
                log.warning("skipping %s: the spine lists it but the book does not contain it", document)
                continue
            sections.extend(_document_sections(archive, package, document, sections))
        cover, cover_mime = package.cover()
    chapters = number_sections(sections)
    if not chapters:
        raise InputError(f"{path} has no text to read", hint="check the book opens in an e-book reader")
    return Book(title=package.title or path.stem, author=package.author, language=package.language,
                cover=cover, cover_mime=cover_mime, chapters=chapters)


def _document_sections(archive: _Archive, package: _Package, document: str,
                       earlier: list[Section]) -> list[Section]:
    origin = f"{document} in {archive.path}"
    markup = archive.text(document)
    refuse_entity_declarations(markup, origin)
    entries = package.toc.get(document, [])
    titles = {fragment: title for fragment, title in reversed(entries) if fragment}
    content = html_blocks(markup, frozenset(titles))
    del markup
    kind = package.kinds.get(document) or kind_from_types(content.types)
    whole = next((title for fragment, title in entries if not fragment), None)
    if whole is None and entries and not any(isinstance(item, str) for item in content.items):
        whole = entries[0][1]  # the TOC points at ids the document lacks: still its title

    sections: list[Section] = []
    opening: list[Block] = []
    for item in content.items:
        if isinstance(item, str):
            sections.append(Section(titles[item]))
        elif sections:
            sections[-1].blocks.append(item)
        else:
            opening.append(item)
    if whole is not None or (opening and (kind or not earlier or not package.toc or opening[0].heading)):
        heading = next((block.title for block in opening if block.heading), None)
        sections.insert(0, Section(whole or heading or content.title, opening, kind))
    elif opening:
        earlier[-1].blocks.extend(opening)  # an untitled continuation of the chapter before
    return sections
