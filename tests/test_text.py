import io

import pytest

from voiceclone_cli.errors import TextError
from voiceclone_cli.prepare.text import normalize_text, read_text_file, read_text_stream, require_text


def test_nfc_normalisation_composes_accents():
    decomposed = "Cafe\u0301"
    assert normalize_text(decomposed) == "Caf\u00e9"


def test_control_characters_removed_but_newline_and_tab_kept():
    assert normalize_text("a\x00b\x07c\nd\te\x7f") == "abc\nd\te"


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("\x1b[31mred\x1b[0m alert", "red alert"),  # SGR colours
        ("\x1b[1;38;5;208mbold\x1b[m", "bold"),
        ("\x1b[2K\x1b[1Gprogress", "progress"),  # erase line, move cursor
        ("\x1b]0;window title\x07Hello", "Hello"),  # OSC ended by BEL
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ text", "link text"),  # OSC 8 hyperlink, ST
        ("\x1bPq#0;2;0;0;0\x1b\\after", "after"),  # DCS string
        ("\x1b(Bplain\x1b7\x1b8", "plain"),  # charset designation, save/restore cursor
        ("\x9b31mC1 CSI\x9b0m", "C1 CSI"),
        ("\x9d0;title\x9cdone", "done"),  # C1 OSC ended by C1 ST
        ("line one\x1b]0;unterminated\nline two", "line one\nline two"),
        ("\u201cquoted\u00e2\x80\x9d and the rest", "\u201cquoted\u00e2 and the rest"),  # mojibake, no OSC
    ],
)
def test_terminal_escape_sequences_are_removed_whole(text, spoken):
    assert normalize_text(text) == spoken


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("zero\u200bwidth", "zerowidth"),
        ("word\u2060joiner", "wordjoiner"),
        ("\ufeffBOM inside\ufeff", "BOM inside"),
        ("soft\u00adhyphen", "softhyphen"),
        ("\u202eright-to-left override\u202c", "right-to-left override"),
        ("\u2067isolate\u2069 and \u200emarks\u200f", "isolate and marks"),
        ("\u200dstray joiners\u200c", "stray joiners"),
        ("a \u200d b", "a  b"),  # joins nothing visible
        ("\ufe0fstray selector", "stray selector"),
    ],
)
def test_invisible_characters_are_removed(text, spoken):
    assert normalize_text(text) == spoken


@pytest.mark.parametrize(
    "text",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family emoji: ZWJ sequence
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: selector and joiner
        "\u2764\ufe0f",  # red heart, emoji presentation
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: ZWNJ between letters
        "\u0915\u094d\u200d\u0937",  # Devanagari half form: ZWJ
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England flag: tags
    ],
)
def test_joiners_and_selectors_that_shape_visible_text_are_kept(text):
    assert normalize_text(text) == text




def test_carriage_returns_become_newlines():
    assert normalize_text("one\r\ntwo\rthree") == "one\ntwo\nthree"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\t\n", "\x00\x01",
     "\u200b\u200c\u200d\u2060\ufeff\u00ad",  # only zero-width characters
     "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",  # only bidi controls
     "\ufe0f\ufe00 \ufe0e",  # variation selectors alone
     " \u3164 \u200b\n",  # Hangul filler and spaces
     "\x1b[31m\x1b[0m",  # colour codes with nothing between them
     "\x1b]0;title\x07"],
)
def test_empty_or_whitespace_text_is_refused(text):
    with pytest.raises(TextError, match="empty"):
        require_text(text)


def test_text_file_with_bom_is_read(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffHello".encode("utf-8"))
    assert read_text_file(path) == "Hello"


def test_invalid_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(TextError, match="not valid UTF-8"):
        read_text_file(path)


def test_missing_text_file(tmp_path):
    with pytest.raises(TextError, match="not found"):
        read_text_file(tmp_path / "nope.txt")


def test_stream_reading():
    assert read_text_stream(io.BytesIO("Grüße".encode())) == "Grüße"


def test_text_argument_with_undecodable_bytes_is_refused():
    """Python passes command-line bytes that are not UTF-8 as lone surrogates."""
    argument = b"caf\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(TextError, match=r"the text argument is not valid UTF-8 \(byte 3\)"):
        require_text(argument, "the text argument")


def test_every_control_character_but_newline_and_tab_goes_and_nothing_else():
    """Unicode's whole Cc category, checked code point by code point (the cleaning uses a
    pattern for speed, which must not drift from the category)."""
    import sys
    import unicodedata

    from voiceclone_cli.prepare.text import _CONTROLS

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        control = unicodedata.category(ch) == "Cc" and ch not in "\n\t"
        assert bool(_CONTROLS.fullmatch(ch)) == control, hex(code)
        if control and ch != "\r":  # CR becomes a newline
            assert normalize_text(f"a{ch}") == "a", hex(code)
