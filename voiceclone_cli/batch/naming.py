"""Output names for batch lines, and the rule that keeps every one of them inside OUTDIR.

A name comes from a JSONL ``output`` or from the name template (default ``{line}``: the line
number zero-padded to the width of the input's line count, so names sort in script order).
Names are relative paths with ``/`` between folders; absolute paths, ``..``, backslashes,
hidden components (the manifest and temp files start with a dot) and components that start or
end with white space are refused, and ``.wav`` is added when missing.
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import PurePosixPath

from voiceclone_cli.errors import InputError, UsageError
from voiceclone_cli.prepare.text import normalize_text

DEFAULT_TEMPLATE = "{line}"
SCRIPT_TEMPLATE = "{line}-{speaker}"  # a dialogue's default: who speaks is in the name
FIELDS = ("n", "line", "slug", "speaker")
UNKNOWN_COUNT_WIDTH = 4  # stdin: how many lines will come is not known in advance
SLUG_MAX_CHARS = 40
_NAME_MAX_BYTES = 255  # per path component, on every common file system
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
_NOT_WORD = re.compile(r"[\W_]+")


class _Padded(int):
    """An int that formats zero-padded by default: ``{n}`` gives ``0042``, ``{n:d}`` gives ``42``."""

    width: int

    def __new__(cls, value: int, width: int) -> _Padded:
        number = super().__new__(cls, value)
        number.width = width
        return number

    def __format__(self, spec: str) -> str:
        return format(int(self), spec or f"0{self.width}d")


class NameTemplate:
    """``--name-template``, checked once up front so a typo costs nothing."""

    def __init__(self, template: str | None = None) -> None:
        self.template = DEFAULT_TEMPLATE if template is None else template
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None]
        except ValueError as exc:
            raise UsageError(f"--name-template {self.template!r}: {exc}") from None
        unknown = sorted({name for name in fields if name not in FIELDS})
        if unknown:
            shown = ", ".join("{" + name + "}" for name in unknown)
            raise UsageError(f"--name-template: unknown field {shown}",
                             hint="use {n}, {line}, {slug} and (in dialogue scripts) {speaker}")
        if not fields:
            raise UsageError(
                "--name-template needs {n}, {line} or {slug}, or every line gets the same name",
                hint="e.g. --name-template 'scene-{n}'",
            )
        try:
            check_output_name(self.render(line=1, index=1, text="example", line_width=1, index_width=1,
                                          speaker="Speaker"))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--name-template {self.template!r}: {exc}") from None
        except InputError as exc:  # e.g. '../{n}': every line would be refused
            raise UsageError(f"--name-template: {exc.message}", hint=exc.hint) from None

    def render(self, *, line: int, index: int, text: str | None, line_width: int, index_width: int,
               speaker: str | None = None) -> str:
        """The name before checking: ``{line}`` and ``{n}`` padded to their widths."""
        return self.template.format(
            n=_Padded(index, index_width), line=_Padded(line, line_width), slug=slugify(text or ""),
            speaker=slugify(speaker or "") if speaker else "narrator",
        )


def slugify(text: str, max_chars: int = SLUG_MAX_CHARS) -> str:
    """Lower-case words joined by ``-``; letters and digits of any script are kept.

    The words are those of the cleaned text, the one spoken: a colour code's "31m" is not one.
    """
    spoken = normalize_text(text)
    words = [w for w in _NOT_WORD.split(unicodedata.normalize("NFKC", spoken).casefold()) if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_chars:
            break
        slug = candidate
    if not slug and words:  # a single word longer than the limit
        slug = words[0][:max_chars]
    return slug or "untitled"


def check_output_name(name: str) -> str:
    """``name`` as a safe path relative to OUTDIR (``.wav`` added if missing), or InputError."""
    shown = repr(name)
    if not name.strip():
        raise InputError("the output name is empty")
    if "\\" in name:
        raise InputError(f"output {shown} contains a backslash; separate folders with /")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InputError(f"output {shown} contains control characters")
    path = PurePosixPath(name)
    if not path.parts:
        raise InputError(f"output {shown} names no file")
    if path.is_absolute() or _WINDOWS_DRIVE.match(name):
        raise InputError(f"output {shown} is an absolute path; it must be relative to OUTDIR")
    if ".." in path.parts:
        raise InputError(f"output {shown} points outside OUTDIR")
    if any(part.startswith(".") for part in path.parts):
        raise InputError(f"output {shown} is a hidden name; names starting with '.' are reserved")
    if any(part != part.strip() for part in path.parts):
        # e.g. '{n:>5}': invisible in listings, and a trap in every shell command that uses it
        raise InputError(
            f"output {shown} has a name that starts or ends with a space",
            hint="remove the spaces (in a template, use a zero-padded field such as {n:05d})",
        )
    if not path.name.lower().endswith(".wav"):
        path = path.with_name(f"{path.name}.wav")
    if any(len(part.encode("utf-8")) > _NAME_MAX_BYTES for part in path.parts):
        raise InputError(f"output {shown} has a name longer than {_NAME_MAX_BYTES} bytes")
    return path.as_posix()


def count_width(count: int | None) -> int:
    """Digits needed for the largest number, or a fixed width when the count is unknown."""
    return UNKNOWN_COUNT_WIDTH if count is None else len(str(max(1, count)))
