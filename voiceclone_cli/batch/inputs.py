"""Batch input: a text file (one utterance a line), JSONL, or stdin, read one line at a time.

Streaming keeps memory flat however long the script is, and every item keeps its 1-based line
number in the input for naming and messages. A problem with one line (bad JSON, an unknown
key, a speed out of range) is recorded on that item as ``problem`` instead of raised, so the
rest of the batch still runs; a problem with the input as a whole (a missing file, a file
that is not UTF-8) raises ``InputError`` before any work is done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from voiceclone_cli.errors import InputError, open_error
from voiceclone_cli.limits import PITCH_RANGE, SPEED_RANGE

TEXT = "text"
JSONL = "jsonl"
SCRIPT = "script"  # a dialogue: "SPEAKER: text" lines (see split_speaker)
AUTO = "auto"  # .jsonl/.ndjson and .txt decide; otherwise the first line does

KNOWN_KEYS = ("text", "output", "sample", "voice", "speed", "pitch")
# Keys starting with "_" are annotations, ignored on input: failed.jsonl writes "_line" and
# "_error" there, and users can keep their own ("_speaker", "_note") without tripping the
# unknown-key check that catches typos such as "sped".
ANNOTATION_PREFIX = "_"

_SUFFIX_FORMATS = {".jsonl": JSONL, ".ndjson": JSONL, ".txt": TEXT}
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BatchItem:
    """One utterance to speak, or the reason its line cannot be used (``problem``)."""

    line: int  # 1-based line number in the input
    index: int  # 1-based position among the items (blank and comment lines do not count)
    text: str | None = None
    output: str | None = None  # a JSONL "output", relative to OUTDIR
    sample: Path | None = None  # a JSONL "sample", resolved against the input's folder
    voice: str | None = None  # a JSONL "voice" (a saved voice's name)
    speaker: str | None = None  # a script line's speaker (its voice comes from the cast)
    speed: float | None = None
    pitch: float | None = None
    fields: dict[str, Any] | None = None  # the JSONL object as given, for failed.jsonl
    raw: str | None = None  # the line as read, when it could not be parsed at all
    problem: str | None = None

    @property
    def voice_ref(self):
        """The line's own voice (a sample path or a saved voice), if it names one."""
        if self.voice is not None:
            from voiceclone_cli.batch.voices import SavedVoice

            return SavedVoice(self.voice)
        return self.sample


@dataclass(frozen=True)
class InputShape:
    """What a counting pass over a file learns: the progress total and the widths of names."""

    items: int
    last_line: int


class BatchInput:
    """Where the lines come from. A file is opened once per pass; a stream is read once."""

    def __init__(
        self,
        name: str,
        open_lines: Callable[[], AbstractContextManager[Iterable[bytes]]],
        *,
        fmt: str,
        base_dir: Path,
        countable: bool,
        path: Path | None = None,
    ) -> None:
        self.name = name
        self.path = path  # the input file, if it is one (outputs must never overwrite it)
        self.format = fmt
        self.base_dir = base_dir
        self.countable = countable
        self._open_lines = open_lines

    @classmethod
    def from_path(cls, path: Path, fmt: str = AUTO) -> BatchInput:
        """A file: counted first when it is a regular file, streamed when it is a pipe."""
        path = Path(path)
        if fmt == AUTO:
            fmt = _SUFFIX_FORMATS.get(path.suffix.lower(), AUTO)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, or handed to from_stream
        except OSError as exc:
            raise open_error(exc, "input file", path, "INPUT") from None
        base_dir = path.absolute().parent
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # e.g. <(cmd): one pass only
            return cls.from_stream(handle, fmt, base_dir=base_dir, name=str(path))
        with handle:
            if fmt == AUTO:
                fmt = _sniff(handle)[0]
        return cls(str(path), lambda: open(path, "rb"), fmt=fmt, base_dir=base_dir, countable=True,
                   path=path)

    @classmethod
    def from_stream(
        cls, stream: BinaryIO, fmt: str = AUTO, *, base_dir: Path | None = None, name: str = "stdin"
    ) -> BatchInput:
        """Lines from a stream (stdin); with ``auto`` the format is sniffed from its first line."""
        lines: Iterable[bytes] = stream
        if fmt == AUTO:
            fmt, leading = _sniff(stream)
            lines = itertools.chain(leading, stream)
        if fmt == SCRIPT:
            # Every speaker is resolved before the first request, so a script is read twice:
            # keep the stream's lines (a play's script is small) in a spooled file.
            import tempfile

            spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - lives with the input
            for raw in lines:
                spool.write(raw)

            def reopen() -> AbstractContextManager[Iterable[bytes]]:
                spool.seek(0)
                return contextlib.nullcontext(iter(spool.readline, b""))

            return cls(name, reopen, fmt=fmt, base_dir=base_dir or Path.cwd(), countable=True)
        used = False

        def open_once() -> AbstractContextManager[Iterable[bytes]]:
            nonlocal used
            if used:
                raise RuntimeError(f"{name} can be read only once")
            used = True
            return contextlib.nullcontext(lines)

        return cls(name, open_once, fmt=fmt, base_dir=base_dir or Path.cwd(), countable=False)

    def shape(self) -> InputShape | None:
        """Count a file's items (``None`` for a stream); a file that is not UTF-8 is refused."""
        if not self.countable:
            return None
        items = last_line = 0
        with self._open_lines() as lines:
            for number, text in _content_lines(lines):
                if text is None:
                    raise InputError(
                        f"{self.name} is not valid UTF-8 (line {number})",
                        hint="convert it first, e.g. iconv -f latin1 -t utf-8",
                    )
                items += 1
                last_line = number
        return InputShape(items, last_line)

    def items(self) -> Iterator[BatchItem]:
        """Every utterance in order, read lazily."""
        current: str | None = None  # a script's speaker, carried over to lines without one
        with self._open_lines() as lines:
            for index, (number, text) in enumerate(_content_lines(lines), start=1):
                if text is None:
                    yield BatchItem(number, index, problem="the line is not valid UTF-8")
                elif self.format == JSONL:
                    yield parse_jsonl_line(text, line=number, index=index, base_dir=self.base_dir)
                elif self.format == SCRIPT:
                    speaker, said = split_speaker(text)
                    if speaker is not None:
                        current = speaker
                    if current is None:
                        yield BatchItem(number, index, text=text,
                                        problem="no speaker yet: start the first line with NAME:")
                    else:
                        yield BatchItem(number, index, text=said, speaker=current)
                else:
                    yield BatchItem(number, index, text=text)


_SPEAKER = re.compile(r"^\s*(?P<name>[^\W\d_][\w.\-]{0,39})\s*:\s*(?P<text>.*)$")


def split_speaker(line: str) -> tuple[str | None, str]:
    """``("Ana", "Hello.")`` for ``"Ana: Hello."``; ``(None, line)`` for a line that goes on with
    the previous speaker's turn. A speaker is one word of letters (any script), digits, ``_``,
    ``-`` or ``.``, starting with a letter, as voice names are."""
    match = _SPEAKER.match(line)
    if match is None:
        return None, line
    return match.group("name"), match.group("text")


def _content_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, str | None]]:
    """(line number, text) for every line that is not blank or a ``#`` comment.

    The text is ``None`` for a line that is not UTF-8. A BOM on the first line is dropped, and
    so are CR LF line ends.
    """
    for number, raw in enumerate(lines, start=1):
        if number == 1:
            raw = raw.removeprefix(_BOM)
        raw = raw.rstrip(b"\n").rstrip(b"\r")
        if not raw.strip() or raw.lstrip().startswith(b"#"):
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        if text.strip():
            yield number, text


def _sniff(lines: Iterable[bytes]) -> tuple[str, list[bytes]]:
    """JSONL if the first content line starts with ``{``, else text; plus the lines read.

    Deciding on ``{`` rather than on a successful parse is the safe side: a JSONL file whose
    first line has a typo fails line by line instead of being spoken aloud, braces and all.
    """
    read: list[bytes] = []
    for raw in lines:
        read.append(raw)
        content = (raw.removeprefix(_BOM) if len(read) == 1 else raw).strip()
        if content and not content.startswith(b"#"):
            return (JSONL if content.startswith(b"{") else TEXT), read
    return TEXT, read


def parse_jsonl_line(text: str, *, line: int, index: int, base_dir: Path) -> BatchItem:
    """One JSONL object as an item; every problem with it is named in ``problem``."""
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        return BatchItem(line, index, raw=text, problem=f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return BatchItem(line, index, raw=text, problem="not valid JSON (nested too deeply)")
    except ValueError:  # an integer with more digits than Python converts (sys.int_info)
        return BatchItem(line, index, raw=text, problem="not valid JSON (a number has too many digits)")
    if not isinstance(fields, dict):
        return BatchItem(line, index, raw=text, problem="not a JSON object")

    problems: list[str] = []
    unknown = [k for k in fields if k not in KNOWN_KEYS and not k.startswith(ANNOTATION_PREFIX)]
    if unknown:
        names = ", ".join(json.dumps(k) for k in unknown)
        problems.append(f"unknown key{'s' if len(unknown) > 1 else ''} {names} "
                        f"(known: {', '.join(KNOWN_KEYS)}; keys starting with _ are ignored)")
    text_value = fields.get("text")
    if text_value is None:
        problems.append('"text" is missing')
    elif not isinstance(text_value, str):
        problems.append('"text" must be a string')
        text_value = None
    output = _optional_string(fields, "output", problems)
    sample_name = _optional_string(fields, "sample", problems)
    voice = _optional_string(fields, "voice", problems)
    if sample_name is not None and voice is not None:
        problems.append('give "sample" or "voice", not both')
    sample = None
    if sample_name is not None:
        sample = Path(sample_name).expanduser()
        sample = sample if sample.is_absolute() else base_dir / sample
    speed = _optional_number(fields, "speed", SPEED_RANGE, problems)
    pitch = _optional_number(fields, "pitch", PITCH_RANGE, problems)
    return BatchItem(
        line, index, text=text_value, output=output, sample=sample, voice=voice, speed=speed, pitch=pitch,
        fields=fields, problem="; ".join(problems) or None,
    )


def _optional_string(fields: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = fields.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f'"{key}" must be a string')
    return None


def _optional_number(
    fields: dict[str, Any], key: str, limits: tuple[float, float], problems: list[str]
) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f'"{key}" must be a number')
        return None
    low, high = limits
    if isinstance(value, float) and not math.isfinite(value):  # json.loads accepts NaN, Infinity
        problems.append(f'"{key}" {json.dumps(value)} is not a number; give one from {low:g} to {high:g}')
        return None
    if not low <= value <= high:
        problems.append(f'"{key}" {value} is outside {low:g} to {high:g}')
        return None
    return float(value)
