"""Reading books: EPUB 2 and 3, Markdown, plain text and HTML into numbered chapters."""

from __future__ import annotations

import logging
import zipfile

import pytest

from tests.epubs import PNG, EpubBook, standard_book, xhtml
from voiceclone_cli.book import epub as epub_module
from voiceclone_cli.book.listing import listing_rows
from voiceclone_cli.book.sources import read_book
from voiceclone_cli.errors import ExitCode, InputError
from voiceclone_cli.prepare.estimate import CHARS_PER_SECOND


def titles(book) -> list[str]:
    return [c.title for c in book.chapters]


def refused(path) -> InputError:
    with pytest.raises(InputError) as caught:
        read_book(path)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    return caught.value


# -- EPUB: structure ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", [2, 3])
def test_epub_metadata_titles_kinds_and_numbers(tmp_path, version):
    book = read_book(standard_book().build(tmp_path / "book.epub", version=version))
    assert (book.title, book.author, book.language) == ("The Test Book", "Ada Writer", "en")
    assert book.cover == PNG and book.cover_mime == "image/png"
    # The cover page has no text: it is not a section. Titles come from the nav / NCX.
    assert titles(book) == ["Title Page", "Copyright", "Chapter One: Arrival", "Chapter Two",
                            "Chapter Three", "Index"]
    assert [c.number for c in book.chapters] == [1, 2, 3, 4, 5, 6]
    assert [c.kind for c in book.chapters] == ["title-page", "copyright", "chapter", "chapter", "chapter", "index"]
    assert [c.number for c in book.selected()] == [3, 4, 5]
    assert [c.number for c in book.selected(all_sections=True)] == [1, 2, 3, 4, 5, 6]
    # The heading that is the title is not repeated in the text: the book command speaks titles.
    assert book.chapters[2].text == "The first chapter begins here."
    assert book.chapters[5].text == "arrival, 1."


@pytest.mark.parametrize("version", [2, 3])
def test_epub_reading_order_is_the_spine_not_the_manifest(tmp_path, version):
    book = EpubBook()
    for n in (1, 2, 3):
        book.add(f"c{n}.xhtml", f"<p>Text {n}.</p>", toc=f"Part {n}")
    book.spine_order = ["c3.xhtml", "c1.xhtml", "c2.xhtml"]
    read = read_book(book.build(tmp_path / "b.epub", version=version))
    assert titles(read) == ["Part 3", "Part 1", "Part 2"]
    assert [c.text for c in read.chapters] == ["Text 3.", "Text 1.", "Text 2."]


def test_epub_without_landmarks_decides_matter_by_title(tmp_path):
    book = EpubBook()
    book.add("toc.xhtml", "<p>One. Two.</p>", toc="Table of Contents")
    book.add("c1.xhtml", "<p>Story.</p>", toc="The Beginning")
    book.add("refs.xhtml", "<p>Smith 1990.</p>", toc="References")
    book.add("ack.xhtml", "<p>Thanks.</p>", toc="Acknowledgments")
    read = read_book(book.build(tmp_path / "b.epub"))
    assert [c.kind for c in read.chapters] == ["toc", "chapter", "bibliography", "acknowledgements"]
    assert [c.title for c in read.selected()] == ["The Beginning"]


def test_epub_body_epub_type_marks_matter_without_toc_entry(tmp_path):
    book = EpubBook()
    book.add("c1.xhtml", "<h1>Start</h1><p>Story.</p>", toc="Start")
    book.add("legal.xhtml", "", raw=xhtml('<section epub:type="copyright-page"><p>All rights reserved.</p></section>'))
    read = read_book(book.build(tmp_path / "b.epub"))
    assert [c.kind for c in read.chapters] == ["chapter", "copyright"]


def test_the_nav_document_in_the_spine_is_a_table_of_contents(tmp_path):
    book = EpubBook()
    book.add("c1.xhtml", "<h1>Start</h1><p>Story.</p>", toc="Start", landmark="bodymatter")
    book.add("chapter%20two.xhtml", "<p>More story.</p>", toc="Two")
    path = book.build(tmp_path / "b.epub")
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    members["OEBPS/content.opf"] = members["OEBPS/content.opf"].replace(b"<spine>", b'<spine><itemref idref="nav"/>')
    members["OEBPS/nav.xhtml"] = members["OEBPS/nav.xhtml"].replace(b"<h1>Contents</h1>", b"")
    members["OEBPS/chapter two.xhtml"] = members.pop("OEBPS/chapter%20two.xhtml")
    with zipfile.ZipFile(tmp_path / "n.epub", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    read = read_book(tmp_path / "n.epub")
    assert [(c.title, c.kind) for c in read.chapters] == [
        ("Navigation", "toc"), ("Start", "chapter"), ("Two", "chapter")]
    assert read.chapters[0].text == "Start.\n\nTwo."  # the hidden landmarks are not read
    assert read.chapters[2].text == "More story."  # an href with %20 finds its file


def test_epub_documents_missing_from_the_toc(tmp_path):
    """A split chapter's continuation joins it; a document opening with a heading is a chapter
    titled by that heading; linear="no" documents are not read."""
    book = EpubBook()
    book.add("c1.xhtml", "<h1>One</h1><p>First part.</p>", toc="One")
    book.add("c1b.xhtml", "<p>Still chapter one.</p>")
    book.add("extra.xhtml", "<h2>An Interlude</h2><p>Between.</p>")
    book.add("notes.xhtml", "<p>Note text.</p>", linear=False)
    book.add("c2.xhtml", "<p>Second.</p>", toc="Two")
    read = read_book(book.build(tmp_path / "b.epub"))
    assert titles(read) == ["One", "An Interlude", "Two"]
    assert read.chapters[0].text == "First part.\n\nStill chapter one."
    assert "Note text" not in " ".join(c.text for c in read.chapters)


def test_epub_without_toc_titles_by_first_heading_then_document_title(tmp_path):
    book = EpubBook()
    book.add("a.xhtml", "<h2>Heading Title</h2><p>Alpha.</p>")
    book.add("b.xhtml", "", raw=xhtml("<p>Beta.</p>", title="Doc Title"))
    read = read_book(book.build(tmp_path / "b.epub", version=2))
    assert titles(read) == ["Heading Title", "Doc Title"]


@pytest.mark.parametrize("version", [2, 3])
def test_toc_entries_pointing_into_a_document_split_it(tmp_path, version):
    body = ('<p>Preface words.</p><h2 id="s1">First</h2><p>One one.</p>'
            '<div id="s2"><h2>Second</h2><p>Two two.</p></div>')
    book = EpubBook()
    book.add("all.xhtml", body, toc="Opening Words", sub_entries=[("s1", "First"), ("s2", "Second")])
    read = read_book(book.build(tmp_path / "b.epub", version=version))
    assert titles(read) == ["Opening Words", "First", "Second"]
    assert [c.text for c in read.chapters] == ["Preface words.", "One one.", "Two two."]


def test_an_empty_part_divider_lends_its_title_to_the_next_chapter(tmp_path):
    book = EpubBook()
    book.add("p1.xhtml", "<h1>Part One</h1>", toc="Part One")
    book.add("c1.xhtml", "<p>Story.</p>", toc="Chapter 1")
    read = read_book(book.build(tmp_path / "b.epub"))
    assert [(c.number, c.title, c.text) for c in read.chapters] == [(1, "Part One. Chapter 1", "Story.")]


# -- EPUB: XHTML to text -------------------------------------------------------------------------

def test_xhtml_to_text(tmp_path):
    body = """
      <h1>Chapter One</h1>
      <h2>A Storm</h2>
      <p>It was a dark&#160;night<sup><a href="#n1">1</a></sup> and &amp; stormy<a epub:type="noteref" href="#n2">2</a>,
         wrote   <em>she</em><a href="notes.xhtml#n3">[3]</a>.</p>
      <p>Line one<br/>line two</p>
      <ul><li>apples</li><li>pears?</li></ul>
      <table><tr><td>cell a</td><td>cell b</td></tr></table>
      <script>var x = "never spoken";</script><style>p { color: red }</style>
      <img src="pic.png" alt="never spoken"/><svg><text>never spoken</text></svg>
      <p>See <a href="http://example.com">the site</a> for &lt;more&gt; &eacute;t&eacute; x<sup>2</sup>.</p>
      <p>Back in <a href="c.xhtml#v">Part V</a>, <a href="#c5">V</a> and <a href="#n4">(iv)</a><a href="#n5">&#8224;</a>.</p>
      <aside epub:type="footnote" id="n1"><p>never spoken</p></aside>
      <section epub:type="endnotes"><p>never spoken</p></section>
    """
    book = EpubBook()
    book.add("c.xhtml", "", raw=xhtml(body, head="<style>never spoken</style>"), toc="Chapter One")
    text = read_book(book.build(tmp_path / "b.epub")).chapters[0].text
    assert "never" not in text
    assert text.split("\n\n") == [
        "A Storm.",
        "It was a dark night and & stormy, wrote she.",
        "Line one.\nline two.",
        "apples.",
        "pears?",
        "cell a.",
        "cell b.",
        "See the site for <more> été x2.",
        "Back in Part V, V and.",
    ]


def test_malformed_xhtml_is_still_read(tmp_path):
    raw = "<html><body><h1>Broken</h1><p>Unclosed <b>bold<p>Stray & ampersand</i> here</div><p>Last"
    book = EpubBook()
    book.add("c.xhtml", "", raw=raw, toc="Broken")
    text = read_book(book.build(tmp_path / "b.epub")).chapters[0].text
    assert text == "Unclosed bold.\n\nStray & ampersand here.\n\nLast."


def test_documents_in_a_declared_encoding(tmp_path):
    raw = ('<?xml version="1.0" encoding="ISO-8859-1"?><html><body><p>Caf\u00e9 cr\u00e8me.</p></body></html>'
           ).encode("latin-1")
    book = EpubBook()
    book.add("c.xhtml", "", raw=raw, toc="Latin")
    assert read_book(book.build(tmp_path / "b.epub")).chapters[0].text == "Café crème."
    bad = EpubBook()
    bad.add("c.xhtml", "", raw=b"<html><body><p>caf\xe9</p></body></html>", toc="Bad")
    error = refused(bad.build(tmp_path / "bad.epub"))
    assert "c.xhtml" in error.message and "not valid UTF-8" in error.message


# -- EPUB: hostile and broken files --------------------------------------------------------------

def test_a_missing_spine_document_is_skipped_with_a_warning(tmp_path, caplog):
    book = EpubBook()
    book.add("c1.xhtml", "<p>Here.</p>", toc="One")
    book.add("c2.xhtml", "<p>Gone.</p>", toc="Two")
    path = book.build(tmp_path / "b.epub")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "m.epub", "w") as dst:
        for info in src.infolist():
            if info.filename != "OEBPS/c2.xhtml":
                dst.writestr(info, src.read(info))
    with caplog.at_level(logging.WARNING, logger="voiceclone.book"):
        read = read_book(tmp_path / "m.epub")
    assert titles(read) == ["One"]
    assert "OEBPS/c2.xhtml" in caplog.text


def test_hrefs_climbing_out_of_the_book_are_ignored(tmp_path, caplog):
    book = EpubBook()
    book.add("c1.xhtml", "<p>Safe.</p>", toc="One")
    book.opf_extra = '<item id="evil" href="../../../etc/passwd" media-type="application/xhtml+xml"/>'
    book.extra["etc/passwd"] = xhtml("<p>root:x:0:0</p>")
    path = book.build(tmp_path / "b.epub")
    # Put the evil item in the spine too.
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    members["OEBPS/content.opf"] = members["OEBPS/content.opf"].replace(b"<spine>", b'<spine><itemref idref="evil"/>')
    with zipfile.ZipFile(tmp_path / "t.epub", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with caplog.at_level(logging.WARNING, logger="voiceclone.book"):
        read = read_book(tmp_path / "t.epub")
    assert [c.text for c in read.chapters] == ["Safe."]
    assert "outside the book" in caplog.text


def test_zip_bomb_caps_per_member_and_in_total(tmp_path, monkeypatch):
    book = EpubBook()
    book.add("c1.xhtml", "<p>" + "All work and no play. " * 2000 + "</p>", toc="One")
    book.add("c2.xhtml", "<p>" + "All work and no play. " * 2000 + "</p>", toc="Two")
    path = book.build(tmp_path / "b.epub")
    assert len(read_book(path).chapters) == 2
    monkeypatch.setattr(epub_module, "MAX_MEMBER_BYTES", 30_000)
    error = refused(path)
    assert "zip bomb" in error.hint and "c1.xhtml" in error.message
    monkeypatch.setattr(epub_module, "MAX_MEMBER_BYTES", 60_000)
    monkeypatch.setattr(epub_module, "MAX_TOTAL_BYTES", 70_000)
    assert "c2.xhtml" in refused(path).message


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  "<html><body><p>&lol2;</p></body></html>")
XXE = ('<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       "<html><body><p>&xxe;</p></body></html>")


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE])
def test_entity_declarations_are_refused_in_content_and_package(tmp_path, payload):
    book = EpubBook()
    book.add("c.xhtml", "", raw=payload, toc="Evil")
    assert "declares XML entities" in refused(book.build(tmp_path / "c.epub")).message
    book = EpubBook()
    book.add("c.xhtml", "<p>fine</p>", toc="Fine")
    path = book.build(tmp_path / "p.epub")
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    opf = members["OEBPS/content.opf"].decode()
    members["OEBPS/content.opf"] = opf.replace('<?xml version="1.0" encoding="UTF-8"?>',
                                               payload.split("<html>")[0]).encode()
    with zipfile.ZipFile(tmp_path / "q.epub", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert "content.opf" in refused(tmp_path / "q.epub").message


ENCRYPTION = ('<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
              'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
              '<enc:EncryptionMethod Algorithm="{algorithm}"/><enc:CipherData>'
              '<enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>')


def test_encrypted_content_is_refused_as_drm(tmp_path):
    book = EpubBook()
    book.add("c.xhtml", "<p>Secret.</p>", toc="One")
    book.extra["META-INF/encryption.xml"] = ENCRYPTION.format(
        algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc", uri="OEBPS/c.xhtml")
    error = refused(book.build(tmp_path / "drm.epub"))
    assert "DRM-protected" in error.message and "drm.epub" in error.message


def test_encryption_without_an_algorithm_is_refused_as_drm_not_a_crash(tmp_path):
    book = EpubBook()
    book.add("c.xhtml", "<p>Secret.</p>", toc="One")
    book.extra["META-INF/encryption.xml"] = ENCRYPTION.format(algorithm="", uri="OEBPS/c.xhtml").replace(
        ' Algorithm=""', "")
    assert "DRM-protected" in refused(book.build(tmp_path / "bare.epub")).message


def test_font_obfuscation_is_not_drm(tmp_path):
    book = EpubBook()
    book.add("c.xhtml", "<p>Open.</p>", toc="One")
    book.extra["META-INF/encryption.xml"] = ENCRYPTION.format(
        algorithm="http://www.idpf.org/2008/embedding", uri="OEBPS/fonts/f.otf")
    assert read_book(book.build(tmp_path / "ok.epub")).chapters[0].text == "Open."


def test_broken_epub_files_are_refused_clearly(tmp_path):
    not_zip = tmp_path / "fake.epub"
    not_zip.write_text("just text")
    assert "not a valid EPUB" in refused(not_zip).message
    no_opf = tmp_path / "empty.epub"
    with zipfile.ZipFile(no_opf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    assert "no package document" in refused(no_opf).message
    no_text = EpubBook().add("c.xhtml", "<img src='a.png'/>", toc="Cover", landmark="cover")
    assert "no text" in refused(no_text.build(tmp_path / "blank.epub")).message


def test_container_without_a_usable_rootfile_falls_back_to_the_opf_in_the_zip(tmp_path):
    book = EpubBook()
    book.add("c.xhtml", "<p>Found.</p>", toc="One")
    book.extra["META-INF/container.xml"] = "<container><rootfiles><rootfile full-path='nowhere.opf'/></rootfiles></container>"
    with pytest.warns(UserWarning):  # zipfile: the duplicate container.xml member
        path = book.build(tmp_path / "b.epub")
    with zipfile.ZipFile(path) as z:
        assert z.read("META-INF/container.xml").startswith(b"<container>")
    assert read_book(path).chapters[0].text == "Found."


# -- Markdown ----------------------------------------------------------------------------------

MARKDOWN = """---
title: "Front Matter Title"
author: Jane Doe
---
Some opening words with a [link](http://example.com) and ![an image](pic.png).

# Chapter One

Para with *emphasis*, __strong__, `code`, snake_case_name and a footnote[^1].
It continues on a second line.

```python
print("never spoken")
```

- first item
- second item?

    indented code never spoken

## A Subsection

| Name | Age |
|------|-----|
| Ann  | 30  |

<div>tags <b>stripped</b></div>

[^1]: never spoken either
[ref]: http://example.com

Chapter One Point Five
======================

Setext heading chapter.

# Contents

Nothing.
"""


def test_markdown_chapters_text_and_front_matter(tmp_path):
    path = tmp_path / "novel.md"
    path.write_text(MARKDOWN)
    book = read_book(path)
    assert (book.title, book.author) == ("Front Matter Title", "Jane Doe")
    assert [(c.number, c.title, c.kind) for c in book.chapters] == [
        (1, "Front Matter Title", "chapter"), (2, "Chapter One", "chapter"),
        (3, "Chapter One Point Five", "chapter"), (4, "Contents", "toc")]
    assert book.chapters[0].text == "Some opening words with a link and."
    text = book.chapters[1].text
    assert "never" not in text and "http" not in text and "|" not in text
    assert text.split("\n\n") == [
        "Para with emphasis, strong, code, snake_case_name and a footnote. It continues on a second line.",
        "first item.", "second item?", "A Subsection.", "Name.", "Age.", "Ann.", "30.", "tags stripped.",
    ]


def test_markdown_single_h1_is_the_title_and_h2_are_chapters(tmp_path):
    path = tmp_path / "guide.markdown"
    path.write_text("# The Guide\n\nIntro text.\n\n## Setup\n\nDo this.\n\n## Use\n\nDo that.\n")
    book = read_book(path)
    assert book.title == "The Guide"
    assert [(c.title, c.text) for c in book.chapters] == [
        ("The Guide", "Intro text."), ("Setup", "Do this."), ("Use", "Do that.")]


def test_markdown_without_opening_text_or_headings(tmp_path):
    path = tmp_path / "my_notes.md"
    path.write_text("# A\n\nOne.\n\n# B\n\nTwo.\n")
    assert titles(read_book(path)) == ["A", "B"]
    flat = tmp_path / "flat_file.md"
    flat.write_text("Just *one* paragraph.\n")
    book = read_book(flat)
    assert book.title == "flat file" and titles(book) == ["flat file"]
    assert book.chapters[0].text == "Just one paragraph."


# -- Plain text --------------------------------------------------------------------------------

TEXT = """THE BOOK OF TESTS

By Someone.

PROLOGUE

Before it all began.

CHAPTER I. Loomings.

Call me Ishmael. Some years ago, never mind how long
precisely, I went to sea.

The chapter 3 of the report, said he, on a line of its own:
Chapter 3 of the report is not a heading here.

Chapter 2
The Second Title

Second text.

Chapter Twenty-One: The End

Part One

Chapter XIV

Fourteen.

EPILOGUE

After.
"""


def test_text_chapter_headings(tmp_path):
    path = tmp_path / "the_book-of_tests.txt"
    path.write_text(TEXT)
    book = read_book(path)
    assert book.title == "the book of tests"
    assert [(c.number, c.title) for c in book.chapters] == [
        (1, "Opening"), (2, "PROLOGUE"), (3, "CHAPTER I. Loomings."), (4, "Chapter 2: The Second Title"),
        (5, "Chapter Twenty-One: The End. Part One. Chapter XIV"), (6, "EPILOGUE")]
    assert book.chapters[0].text == "THE BOOK OF TESTS.\n\nBy Someone."
    assert book.chapters[2].text == (
        "Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.\n\n"
        "The chapter 3 of the report, said he, on a line of its own: "
        "Chapter 3 of the report is not a heading here.")
    assert book.chapters[4].text == "Fourteen."


def test_text_with_form_feeds_or_no_headings(tmp_path):
    pages = tmp_path / "pages.txt"
    pages.write_text("First Page\n\nAlpha text.\fSecond Page\n\nBeta text.\n")
    assert [(c.title, c.text) for c in read_book(pages).chapters] == [
        ("First Page", "Alpha text."), ("Second Page", "Beta text.")]
    plain = tmp_path / "essay.txt"
    plain.write_text("Line one\nof a paragraph.\r\n\r\nAnother paragraph")
    book = read_book(plain)
    assert [(c.title, c.text) for c in book.chapters] == [("essay", "Line one of a paragraph.\n\nAnother paragraph.")]


def test_text_is_cleaned(tmp_path):
    path = tmp_path / "dirty.txt"
    path.write_bytes("\ufeffHello\u200b \x1b[31mworld\x1b[0m.".encode())
    assert read_book(path).chapters[0].text == "Hello world."


# -- HTML --------------------------------------------------------------------------------------

def test_html_file_chapters(tmp_path):
    many = tmp_path / "page.html"
    many.write_text("<html><head><title>Doc</title></head><body><p>Lead.</p><h1>One</h1><p>A.</p>"
                    "<h1>Two</h1><h2>Sub</h2><p>B.</p></body></html>")
    book = read_book(many)
    assert book.title == "Doc"
    assert [(c.title, c.text) for c in book.chapters] == [("Doc", "Lead."), ("One", "A."), ("Two", "Sub.\n\nB.")]
    single = tmp_path / "single.xhtml"
    single.write_text(xhtml("<h1>My Title</h1><h2>Start</h2><p>S.</p><h2>End</h2><p>E.</p>"))
    book = read_book(single)
    assert book.title == "My Title" and titles(book) == ["Start", "End"]


# -- Files -------------------------------------------------------------------------------------

def test_unsupported_missing_and_non_utf8_files(tmp_path):
    other = tmp_path / "book.pdf"
    other.write_bytes(b"%PDF")
    error = refused(other)
    assert ".pdf" in error.message and ".epub" in error.hint and ".md" in error.hint and ".txt" in error.hint
    assert "not found" in refused(tmp_path / "absent.txt").message
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    assert "not valid UTF-8" in refused(latin).message
    empty = tmp_path / "empty.md"
    empty.write_text("```\ncode only\n```\n")
    assert "no text" in refused(empty).message


# -- --list rows and a large book ----------------------------------------------------------------

def test_listing_rows(tmp_path):
    book = read_book(standard_book().build(tmp_path / "b.epub"))
    rows = listing_rows(book)
    assert [(r.number, r.title, r.kind, r.skipped) for r in rows] == [
        (1, "Title Page", "title-page", True), (2, "Copyright", "copyright", True),
        (3, "Chapter One: Arrival", "chapter", False), (4, "Chapter Two", "chapter", False),
        (5, "Chapter Three", "chapter", False), (6, "Index", "index", True)]
    assert rows[2].characters == len("The first chapter begins here.")
    assert rows[2].minutes == pytest.approx(rows[2].characters / CHARS_PER_SECOND / 60)
    assert [r.skipped for r in listing_rows(book, all_sections=True)] == [False] * 6
    assert listing_rows(book, speed=2.0)[2].minutes == pytest.approx(rows[2].minutes / 2)


def test_a_300k_character_epub_is_read(tmp_path):
    paragraph = "<p>" + "The quick brown fox jumps over the lazy dog, again and again. " * 8 + "</p>"
    book = EpubBook()
    for n in range(1, 63):
        book.add(f"c{n}.xhtml", f"<h1>Chapter {n}</h1>" + paragraph * 10, toc=f"Chapter {n}")
    read = read_book(book.build(tmp_path / "big.epub"))
    rows = listing_rows(read)
    assert len(rows) == 62 and sum(r.characters for r in rows) > 300_000
    assert all(r.characters == rows[0].characters for r in rows)
