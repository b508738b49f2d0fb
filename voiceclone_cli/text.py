"""Reading and cleaning the text to speak.

Text is cleaned once, before anything is sent, so that the character count we check against
the service limit is the count the service sees.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import BinaryIO

from voiceclone_cli.errors import TextError

_KEEP_CONTROLS = {"\n", "\t"}


def normalize_text(text: str) -> str:
    """NFC-normalise and drop control characters (newline and tab survive).

    Carriage returns become newlines so Windows files keep their line structure.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    return "".join(
        ch for ch in text if ch in _KEEP_CONTROLS or unicodedata.category(ch) != "Cc"
    )


def require_text(text: str, origin: str = "the text") -> str:
    """Normalise and refuse text with nothing to say."""
    cleaned = normalize_text(text)
    if not cleaned.strip():
        raise TextError(
            f"{origin} is empty",
            hint="give the text as an argument, with -f FILE, or on stdin",
        )
    return cleaned


def decode_text_bytes(data: bytes, origin: str) -> str:
    """Decode UTF-8 (a BOM is allowed) with a clear error instead of mojibake."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextError(
            f"{origin} is not valid UTF-8 (byte {exc.start})",
            hint="convert it first, e.g. iconv -f latin1 -t utf-8",
        ) from None


def read_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TextError(f"text file not found: {path}", hint="check the path given to -f") from None
    except IsADirectoryError:
        raise TextError(f"text file is a directory: {path}", hint="give a file to -f") from None
    except OSError as exc:
        raise TextError(f"cannot read text file {path}: {exc.strerror}") from None
    return decode_text_bytes(data, f"text file {path}")


def read_text_stream(stream: BinaryIO, origin: str = "stdin") -> str:
    return decode_text_bytes(stream.read(), origin)
