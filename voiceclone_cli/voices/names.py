"""Voice names: what a name may be, when two names are the same voice, and near misses.

A name is typed on command lines and in scripts, so it keeps to letters (of any script),
digits and ``- _ .``: no spaces, slashes or quotes to escape, nothing a shell or a path could
misread. It never becomes a file name (voice folders are named by id), so the rules are about
people, not file systems. Two names are the same voice when they match ignoring case, as
people read them: ``Ana`` and ``ana`` are one voice.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

from voiceclone_cli.errors import InputError

MAX_NAME_CHARS = 40
_PUNCTUATION = "-_."
NAME_RULE = (f"1-{MAX_NAME_CHARS} letters, digits, '-', '_' or '.', "
             "not starting with '.' or '-'")


def _allowed(ch: str, first: bool) -> bool:
    category = unicodedata.category(ch)
    if category[0] == "L" or category == "Nd":
        return True
    if category[0] == "M":  # vowel signs and accents of scripts such as Devanagari
        return not first
    return ch in _PUNCTUATION and not (first and ch in ".-")


def validate_name(name: str) -> str:
    """The name as stored (NFC), or ``InputError`` saying which rule it breaks."""
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise InputError("a voice name cannot be empty", hint=f"use {NAME_RULE}")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"voice name {name[:MAX_NAME_CHARS]!r}... is {len(name)} characters long "
                         f"(at most {MAX_NAME_CHARS})", hint="choose a shorter name")
    for index, ch in enumerate(name):
        if not _allowed(ch, index == 0):
            where = "start with" if index == 0 and ch in ".-" else "contain"
            raise InputError(f"voice name {name!r} cannot {where} {ch!r}", hint=f"use {NAME_RULE}")
    return name


def name_key(name: str) -> str:
    """What decides whether two names are the same voice."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def closest(name: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """Existing names that look like a mistyped ``name``, best first."""
    names = list(names)
    by_key = {name_key(n): n for n in names}
    keys = difflib.get_close_matches(name_key(name), list(by_key), n=limit, cutoff=0.5)
    return [by_key[k] for k in keys]
