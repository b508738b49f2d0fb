import io

import pytest

from voiceclone_cli.errors import TextError
from voiceclone_cli.text import normalize_text, read_text_file, read_text_stream, require_text


def test_nfc_normalisation_composes_accents():
    decomposed = "Cafe\u0301"
    assert normalize_text(decomposed) == "Caf\u00e9"


def test_control_characters_removed_but_newline_and_tab_kept():
    assert normalize_text("a\x00b\x07c\nd\te\x1b[31m") == "abc\nd\te[31m"


def test_carriage_returns_become_newlines():
    assert normalize_text("one\r\ntwo\rthree") == "one\ntwo\nthree"


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\x00\x01"])
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
