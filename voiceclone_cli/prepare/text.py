"""Reading and cleaning the text to speak.

Text is cleaned once, before anything is sent, so that the character count we check against
the service limit is the count the service sees.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from voiceclone_cli.errors import TextError, VoicecloneError, open_error

_KEEP_CONTROLS = {"\n", "\t"}
# Unicode's control characters (category Cc: C0, DEL and C1) but those kept; a pattern, as a
# per-character test costs ~0.1 s on a book.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONVERT_HINT = "convert it first, e.g. iconv -f latin1 -t utf-8"

# Terminal escape sequences are removed whole: dropping only the ESC byte would leave
# "[31m" in the text, to be spoken and paid for. Covered: CSI (ESC [ or C1 0x9B) with its
# parameters, OSC (ESC ]) and DCS/SOS/PM/APC strings up to BEL or ST, and the short ESC
# sequences (ESC, intermediates, one final byte). An unterminated ESC string runs to the end of
# its line, as a terminal would swallow it. A C1 string introducer (0x90, 0x98, 0x9D-0x9F) needs
# its terminator: alone it is far more often mojibake ("\u00e2\u20ac\x9d" is a mis-decoded
# closing quote) than an escape, and only that character goes, not the rest of the line.
_ANSI_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)

# Characters that are invisible and say nothing: zero-width space, word joiner and invisible
# operators, BOM, soft hyphen, bidirectional marks, embeddings, overrides and isolates, and the
# Hangul fillers that render as blanks. They are removed wherever they are.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\u3164\ufeff\uffa0\U0001d173-\U0001d17a\U000e0001]"
)
# Characters that only modify their neighbours: zero-width (non-)joiners, which shape emoji
# sequences and Persian or Indic words; variation selectors; combining grapheme joiner; emoji
# tag characters (subdivision flags). They are kept where they modify a visible character and
# removed where they are stray (at the start, after a space, or, for the joiners, with nothing
# visible to join).
_JOINERS = "\u200c\u200d"
_MODIFIER = re.compile("[\u034f\u180b-\u180d\u180f\u200c\u200d\ufe00-\ufe0f\U000e0020-\U000e007f\U000e0100-\U000e01ef]")


def normalize_text(text: str) -> str:
    """Clean text to what is meant to be spoken, so nothing silent is sent or counted.

    Carriage returns become newlines (Windows files keep their line structure); terminal
    escapes, control characters (but newline and tab), invisible characters and stray
    modifiers go; the rest is NFC-normalised.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", _ANSI_ESCAPE.sub("", text))
    text = _CONTROLS.sub("", text)
    return unicodedata.normalize("NFC", _drop_stray_modifiers(text))


def _drop_stray_modifiers(text: str) -> str:
    if not _MODIFIER.search(text):
        return text
    kept: list[str] = []
    base = False  # whether the last kept character is something a modifier can attach to
    for position, ch in enumerate(text):
        if not _MODIFIER.match(ch):
            kept.append(ch)
            base = not ch.isspace()
            continue
        if not base:
            continue
        if ch in _JOINERS:
            following = text[position + 1 : position + 2]
            if not following or following.isspace() or _MODIFIER.match(following):
                continue
        kept.append(ch)
    return "".join(kept)


def require_text(text: str, origin: str = "the text") -> str:
    """Normalise and refuse text with nothing to say, or that holds undecodable bytes."""
    cleaned = normalize_text(_refuse_undecoded_bytes(text, origin))
    if not cleaned.strip():
        raise TextError(
            f"{origin} is empty",
            hint="give the text as an argument, with -f FILE, or on stdin",
        )
    return cleaned


def _refuse_undecoded_bytes(text: str, origin: str) -> str:
    """Python hands over command-line bytes that are not UTF-8 as lone surrogates.

    Sent on, they would crash the request encoder; refused here like a file that is not UTF-8.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise TextError(f"{origin} is not valid UTF-8", hint=_CONVERT_HINT) from None
        return decode_text_bytes(raw, origin)  # names the first bad byte
    return text


def decode_text_bytes(data: bytes, origin: str, error: type[VoicecloneError] = TextError) -> str:
    """Decode UTF-8 (a BOM is allowed) with a clear error instead of mojibake; ``error`` is
    the class that gives the exit code (a bad lexicon is a bad option, exit 2)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{origin} is not valid UTF-8 (byte {exc.start})",
            hint=_CONVERT_HINT,
        ) from None


def read_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise open_error(exc, "text file", path, "-f", TextError) from None
    return decode_text_bytes(data, f"text file {path}")


def read_text_stream(stream: BinaryIO, origin: str = "stdin") -> str:
    return decode_text_bytes(stream.read(), origin)
