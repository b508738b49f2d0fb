"""EPUB 2 and EPUB 3 files built in the tests with zipfile: container, OPF (metadata, manifest,
spine, guide, cover), EPUB 3 nav (toc and landmarks) and EPUB 2 NCX."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def xhtml(body: str, title: str = "doc", head: str = "") -> str:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
            f"<head><title>{escape(title)}</title>{head}</head><body>{body}</body></html>")


@dataclass
class Doc:
    name: str  # path under OEBPS/
    content: str | bytes
    toc: str | None = None  # title in the nav / NCX
    landmark: str | None = None  # EPUB 3 landmark epub:type, or EPUB 2 guide type
    linear: bool = True
    in_spine: bool = True
    sub_entries: list[tuple[str, str]] = field(default_factory=list)  # (fragment, title)


@dataclass
class EpubBook:
    docs: list[Doc] = field(default_factory=list)
    title: str = "The Test Book"
    author: str = "Ada Writer"
    language: str = "en"
    cover: bytes | None = None
    extra: dict[str, bytes | str] = field(default_factory=dict)  # raw members (path -> data)
    opf_extra: str = ""  # raw markup inside the manifest
    spine_order: list[str] | None = None  # names in spine order (default: docs order)

    def add(self, name: str, body: str, **kwargs) -> EpubBook:
        content = kwargs.pop("raw", None) or xhtml(body, title=kwargs.get("toc") or name)
        self.docs.append(Doc(name, content, **kwargs))
        return self

    def build(self, path: Path, version: int = 3) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
            z.writestr("META-INF/container.xml", (
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                "</rootfiles></container>"))
            for doc in self.docs:
                z.writestr(f"OEBPS/{doc.name}", doc.content)
            if self.cover is not None:
                z.writestr("OEBPS/images/cover.png", self.cover)
            z.writestr("OEBPS/content.opf", self._opf(version))
            if version == 3:
                z.writestr("OEBPS/nav.xhtml", self._nav())
            else:
                z.writestr("OEBPS/toc.ncx", self._ncx())
            for name, data in self.extra.items():
                z.writestr(name, data)
        return path

    def _opf(self, version: int) -> str:
        items = [f'<item id="d{i}" href="{d.name}" media-type="application/xhtml+xml"/>'
                 for i, d in enumerate(self.docs)]
        meta = ""
        if self.cover is not None:
            props = ' properties="cover-image"' if version == 3 else ""
            items.append(f'<item id="cover-img" href="images/cover.png" media-type="image/png"{props}/>')
            if version == 2:
                meta = '<meta name="cover" content="cover-img"/>'
        if version == 3:
            items.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
        else:
            items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        order = self.spine_order or [d.name for d in self.docs]
        by_name = {d.name: (i, d) for i, d in enumerate(self.docs)}
        spine = "".join(
            f'<itemref idref="d{by_name[n][0]}"' + ("" if by_name[n][1].linear else ' linear="no"') + "/>"
            for n in order if by_name[n][1].in_spine)
        guide = ""
        if version == 2:
            refs = "".join(f'<reference type="{d.landmark.replace("titlepage", "title-page")}" title="{d.landmark}" href="{d.name}"/>'
                           for d in self.docs if d.landmark)
            guide = f"<guide>{refs}</guide>" if refs else ""
        toc_attr = ' toc="ncx"' if version == 2 else ""
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" '
            f'version="{version}.0" unique-identifier="uid">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">'
            f'<dc:identifier id="uid">urn:uuid:1234</dc:identifier><dc:title>{escape(self.title)}</dc:title>'
            f'<dc:creator opf:role="aut">{escape(self.author)}</dc:creator><dc:language>{self.language}</dc:language>'
            f'<meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>{meta}</metadata>'
            f'<manifest>{"".join(items)}{self.opf_extra}</manifest><spine{toc_attr}>{spine}</spine>{guide}</package>'
        )

    def _entries(self):
        for d in self.docs:
            if d.toc:
                yield d.name, d.toc, [(f"{d.name}#{frag}", title) for frag, title in d.sub_entries]
            for frag, title in (d.sub_entries if not d.toc else []):
                yield f"{d.name}#{frag}", title, []

    def _nav(self) -> str:
        def li(href: str, title: str, children) -> str:
            inner = "".join(f'<li><a href="{h}">{escape(t)}</a></li>' for h, t in children)
            return f'<li><a href="{href}">{escape(title)}</a>' + (f"<ol>{inner}</ol>" if inner else "") + "</li>"

        toc = "".join(li(h, t, c) for h, t, c in self._entries())
        marks = "".join(f'<li><a epub:type="{d.landmark}" href="{d.name}">{d.landmark}</a></li>'
                        for d in self.docs if d.landmark)
        return xhtml(f'<nav epub:type="toc" id="toc"><h1>Contents</h1><ol>{toc}</ol></nav>'
                     f'<nav epub:type="landmarks" hidden=""><ol>{marks}</ol></nav>', title="Navigation")

    def _ncx(self) -> str:
        def point(n: int, href: str, title: str, children) -> str:
            kids = "".join(point(n * 100 + i, h, t, []) for i, (h, t) in enumerate(children, 1))
            return (f'<navPoint id="p{n}" playOrder="{n}"><navLabel><text>{escape(title)}</text></navLabel>'
                    f'<content src="{href}"/>{kids}</navPoint>')

        points = "".join(point(i, h, t, c) for i, (h, t, c) in enumerate(self._entries(), 1))
        return ('<?xml version="1.0" encoding="UTF-8"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" '
                f'version="2005-1"><head/><docTitle><text>{escape(self.title)}</text></docTitle>'
                f"<navMap>{points}</navMap></ncx>")


def standard_book(**kwargs) -> EpubBook:
    """A small book with front and back matter around three chapters."""
    book = EpubBook(cover=PNG, **kwargs)
    book.add("cover.xhtml", '<img src="images/cover.png" alt="Cover"/>', toc="Cover", landmark="cover")
    book.add("title.xhtml", "<h1>The Test Book</h1><p>Ada Writer</p>", toc="Title Page", landmark="titlepage")
    book.add("copyright.xhtml", "<p>Copyright 2024 Ada Writer. All rights reserved.</p>",
             toc="Copyright", landmark="copyright-page")
    book.add("ch1.xhtml", "<h1>Chapter One</h1><p>The first chapter begins here.</p>", toc="Chapter One: Arrival")
    book.add("ch2.xhtml", "<h2>Chapter Two</h2><p>The second chapter goes on.</p>", toc="Chapter Two")
    book.add("ch3.xhtml", "<h2>Chapter Three</h2><p>And the third one ends it.</p>", toc="Chapter Three")
    book.add("index.xhtml", "<h1>Index</h1><ul><li>arrival, 1</li></ul>", toc="Index", landmark="index")
    return book
