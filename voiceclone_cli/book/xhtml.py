"""(X)HTML and the XML files of an EPUB, read with the standard library's ``html.parser``.

``html.parser`` never loads a DTD, never resolves an external entity and expands only HTML's
own named characters, so XXE and entity-expansion bombs cannot happen; it also reads malformed
markup instead of giving up. A document that declares its own entities is refused (EPUB does not
allow them, and hostile files use them): ``refuse_entity_declarations``.

- ``html_blocks``: a content document as text blocks (headings, paragraphs, list items, table
  cells; ``<br>`` ends a line), without scripts, styles, images, hidden elements, footnotes and
  footnote markers;
- ``parse_tree``: a small element tree for the package files (container.xml, OPF, NCX, nav),
  tag and attribute names lowercased and without namespace prefix.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from voiceclone_cli.book.blocks import PARAGRAPH, Block, squeeze
from voiceclone_cli.errors import InputError
from voiceclone_cli.prepare.text import decode_text_bytes

CONVERT_HINT = "convert it again with a tool such as Calibre"
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

_BLOCK_TAGS = frozenset(
    "p div li dt dd blockquote td th tr caption figcaption pre section article header footer "
    "address hr table ul ol dl h1 h2 h3 h4 h5 h6 body main figure nav center".split()
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Never spoken: code and styling, media and their fallback text, embedded graphics and maths.
_SKIPPED_TAGS = frozenset("script style head svg math audio video object iframe noscript template".split())
# epub:type / role values of notes and their markers (EPUB 3 structural semantics, DPUB-ARIA).
_NOTE_TYPES = frozenset(
    "footnote footnotes endnote endnotes rearnote rearnotes note notes noteref "
    "doc-footnote doc-endnote doc-endnotes doc-noteref doc-footnotes".split()
)
# A link to an anchor whose whole text is a note number or mark: "1", "[12]", "(iv)", "*", "†".
_NOTE_MARK = re.compile(r"^(?:\d{1,4}|\[[^\]]{1,6}\]|\([^)]{1,6}\)|[*†‡§¶]+)$")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def refuse_entity_declarations(text: str, origin: str) -> None:
    if "<!ENTITY" in text[:65536].upper():
        raise InputError(
            f"{origin} declares XML entities, which EPUB does not allow and voiceclone never expands",
            hint="the file may be hostile; " + CONVERT_HINT,
        )


def decode_markup(data: bytes, origin: str) -> str:
    """Bytes of an XML document in the encoding its BOM or XML declaration names (else UTF-8)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return _decode(data, encoding, origin)
    declared = _XML_ENCODING.match(data[:200])
    if declared:
        try:
            encoding = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            raise InputError(f"{origin} declares an unknown encoding {declared.group(1).decode()!r}",
                             hint=CONVERT_HINT) from None
        if encoding != "utf-8":
            return _decode(data, encoding, origin)
    return decode_text_bytes(data, origin)


def _decode(data: bytes, encoding: str, origin: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{origin} is not valid {encoding} (byte {exc.start})", hint=CONVERT_HINT) from None


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _types(attrs: dict[str, str]) -> set[str]:
    return set((attrs.get("epub:type", "") + " " + attrs.get("role", "")).lower().split())


class _TextParser(HTMLParser):
    """Streams a document into blocks, keeping only the text and never a tree."""

    def __init__(self, split_ids: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[Block | str] = []  # blocks, and split ids where a section starts
        self.title = ""  # <title>: the last fallback for a chapter title
        self.kind_types: set[str] = set()  # epub:type of <body>, <nav>s and the first <section>
        self._split_ids = split_ids
        self._lines: list[str] = []  # finished lines of the current block (<br>)
        self._words: list[str] = []  # text of the current line
        self._heading = PARAGRAPH
        self._skip: list[str] = []  # open skipped elements (the outermost first)
        self._in_title = False
        self._pre = 0
        self._sections_seen = 0
        # Open <a>/<sup>: tag, line and word where it began, is a note, holds a link, links to an anchor
        self._marks: list[list] = []

    # -- structure
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        self._in_title = self._in_title or tag == "title"
        if self._skip:
            if tag not in _VOID:
                self._skip.append(tag)
            return
        element_id = attrs.get("id")
        if element_id and element_id in self._split_ids:
            self._flush()
            self.items.append(element_id)
        types = _types(attrs)
        if tag in ("body", "nav") or (tag == "section" and self._sections_seen == 0):
            self._sections_seen += tag == "section"
            self.kind_types |= types
        if tag == "title":
            return
        if tag in _SKIPPED_TAGS or "hidden" in attrs or (types & _NOTE_TYPES and tag != "a"):
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if tag == "br":
            self._break_line()
        elif tag in _BLOCK_TAGS:
            self._flush()
            self._heading = _HEADINGS.get(tag, PARAGRAPH)
            self._pre += tag == "pre"
        elif tag in ("a", "sup"):
            self._marks.append([tag, len(self._lines), len(self._words), bool(types & _NOTE_TYPES), False,
                                "#" in attrs.get("href", "")])

    def handle_startendtag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if self._skip:
            return
        element_id = attrs.get("id")
        if element_id and element_id in self._split_ids:
            self._flush()
            self.items.append(element_id)
        if tag == "br":
            self._break_line()
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_title and tag != "title"
        if self._skip:
            if tag in self._skip:
                while self._skip.pop() != tag:
                    pass
            return
        if tag in ("a", "sup"):
            self._close_mark(tag)
        elif tag in _BLOCK_TAGS:
            self._pre -= tag == "pre" and self._pre > 0
            self._flush()

    def _close_mark(self, tag: str) -> None:
        """Drop a footnote marker: a noteref, a link whose text is a note number, a <sup> link."""
        while self._marks:
            open_tag, line, word, is_note, has_link, to_fragment = self._marks.pop()
            if open_tag == tag:
                break
        else:
            return
        if line != len(self._lines) or word > len(self._words):  # a line ended inside: not a marker
            return
        text = squeeze("".join(self._words[word:]))
        if is_note or has_link or (to_fragment and _NOTE_MARK.match(text)):
            del self._words[word:]
        elif tag == "a" and self._marks and self._marks[-1][0] == "sup":
            self._marks[-1][4] = True  # a <sup> holding a link is a marker as a whole

    # -- text
    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        if self._pre and "\n" in data:
            lines = data.split("\n")
            for line in lines[:-1]:
                self._words.append(line)
                self._break_line()
            data = lines[-1]
        self._words.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.upper().startswith("CDATA["):
            self.handle_data(data[6:])

    def _break_line(self) -> None:
        line = squeeze("".join(self._words))
        self._words = []
        if line:
            self._lines.append(line)
        for mark in self._marks:
            mark[1] = -1  # a marker does not span lines

    def _flush(self) -> None:
        self._break_line()
        if self._lines:
            self.items.append(Block("\n".join(self._lines), self._heading))
        self._lines = []
        self._marks = []
        self._heading = PARAGRAPH

    def close(self) -> None:
        super().close()
        self._flush()


@dataclass
class HtmlText:
    items: list[Block | str]  # blocks in order; a str is a split id (a section starts there)
    title: str  # the document's <title>
    types: set[str]  # epub:type of <body>, <nav>s and the first <section> (e.g. "copyright-page", "toc")

    @property
    def blocks(self) -> list[Block]:
        return [item for item in self.items if isinstance(item, Block)]


def html_blocks(markup: str, split_ids: frozenset[str] = frozenset()) -> HtmlText:
    """The speakable text of an (X)HTML document; ``split_ids`` are ids where sections start."""
    parser = _TextParser(split_ids)
    parser.feed(markup)
    parser.close()
    return HtmlText(parser.items, squeeze(parser.title), parser.kind_types)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    text: str = ""  # all the text inside, children's included

    def iter(self, tag: str | None = None):
        for child in self.children:
            if tag is None or child.tag == tag:
                yield child
            yield from child.iter(tag)

    def find(self, tag: str) -> Element | None:
        return next(self.iter(tag), None)

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)


class _TreeParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(_local(tag), {_local(k): (v or "") for k, v in attrs})
        self._stack[-1].children.append(element)
        self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(Element(_local(tag), {_local(k): (v or "") for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        tag = _local(tag)
        names = [e.tag for e in self._stack[1:]]
        if tag in names:  # an end tag with no open element is ignored (malformed input)
            while self._stack.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        for element in self._stack[1:]:
            element.text += data

    def unknown_decl(self, data: str) -> None:
        if data.upper().startswith("CDATA["):
            self.handle_data(data[6:])


def parse_tree(markup: str) -> Element:
    """A forgiving element tree: unclosed elements close at the end, stray end tags are ignored."""
    parser = _TreeParser()
    parser.feed(markup)
    parser.close()
    return parser.root
