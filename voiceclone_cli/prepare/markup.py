"""Pause markup in the text: ``[pause 1.5s]``, ``[pause 300ms]``, ``<break time="500ms"/>``.

A pause becomes silence of that length in the audio. It is never sent to an engine as text and
always splits a chunk. ``--no-markup`` speaks such text literally.

Accepted, in any case and with any spacing:

- ``[pause 1.5s]``, ``[pause 300ms]``, ``[pause 2]`` (seconds), also ``[pause: 2s]``;
  units ``ms``, ``s``, ``sec``, ``second(s)``, ``millisecond(s)``;
- SSML ``<break time="500ms"/>``, ``<break time="1.5s"/>``, ``<break strength="strong"/>``
  (none 0, x-weak 0.1, weak 0.25, medium 0.5, strong 1, x-strong 2 seconds) and ``<break/>``
  (medium, as in SSML); ``time`` wins over ``strength``.

A tag that looks like a pause but cannot be read (``[pause abc]``, ``<break time="soon"/>``)
or asks for more than ``MAX_PAUSE_SECONDS`` is refused before anything is sent: its writer
meant a pause, and speaking "pause abc" aloud would be paid for and wrong. A zero-length pause
(``[pause 0s]``, ``strength="none"``) is no pause and splits nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voiceclone_cli.errors import TextError

MAX_PAUSE_SECONDS = 60.0

STRENGTHS = {"none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 1.0, "x-strong": 2.0}


@dataclass(frozen=True)
class Pause:
    seconds: float


Segment = str | Pause  # text to speak, or silence

# Anything that starts like a pause tag; what is inside is checked afterwards, so that a
# malformed one is reported instead of spoken.
_TAG = re.compile(r"\[\s*pause\b[^\]\n]*\]|<\s*break\b[^>\n]*>", re.IGNORECASE)
_LENGTH = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<unit>ms|milliseconds?|s|secs?|seconds?)?\s*$",
    re.IGNORECASE,
)
_PAUSE_BODY = re.compile(r"^\[\s*pause\s*[:=]?(?P<length>[^\]]*)\]$", re.IGNORECASE)
_BREAK_BODY = re.compile(r"^<\s*break(?P<attrs>(?:\s+[\w:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?\s*>$",
                         re.IGNORECASE)
_ATTRIBUTE = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def parse_markup(text: str) -> list[Segment]:
    """Text and pauses in order; adjacent text is merged, consecutive pauses add up, text with
    nothing but whitespace between pauses is dropped, zero-length pauses vanish.

    Raises ``TextError`` (exit 3) naming a malformed tag and its line.
    """
    segments: list[Segment] = []
    position = 0
    for match in _TAG.finditer(text):
        _add_text(segments, text[position:match.start()])
        seconds = _seconds(match.group(0), text.count("\n", 0, match.start()) + 1)
        if seconds > 0:
            _add_pause(segments, seconds)
        position = match.end()
    _add_text(segments, text[position:])
    if segments and isinstance(segments[-1], str) and not segments[-1].strip():
        segments.pop()
    return segments


def _add_text(segments: list[Segment], text: str) -> None:
    if not text:
        return
    if segments and isinstance(segments[-1], str):
        segments[-1] += text
    else:
        segments.append(text)


def _add_pause(segments: list[Segment], seconds: float) -> None:
    if segments and isinstance(segments[-1], str) and not segments[-1].strip():
        segments.pop()  # only whitespace since the last pause: nothing to speak
    if segments and isinstance(segments[-1], Pause):
        seconds = segments.pop().seconds + seconds  # type: ignore[union-attr]
    segments.append(Pause(round(seconds, 6)))


def _seconds(tag: str, line: int) -> float:
    pause = _PAUSE_BODY.match(tag)
    if pause:
        seconds = _length(pause.group("length"))
    else:
        seconds = _break_seconds(tag)
    if seconds is None:
        raise TextError(
            f"malformed pause tag {tag!r} on line {line} of the text",
            hint='write e.g. [pause 1.5s], [pause 300ms] or <break time="500ms"/> (or use --no-markup to speak it)',
        )
    if seconds > MAX_PAUSE_SECONDS:
        raise TextError(
            f"pause tag {tag!r} on line {line} asks for {seconds:g} s of silence",
            hint=f"a single pause is at most {MAX_PAUSE_SECONDS:g} s",
        )
    return seconds


def _length(value: str) -> float | None:
    match = _LENGTH.match(value)
    if not match:
        return None
    number = float(match.group("number"))
    unit = (match.group("unit") or "s").lower()
    return number / 1000 if unit.startswith("m") else number


def _break_seconds(tag: str) -> float | None:
    match = _BREAK_BODY.match(tag)
    if not match:
        return None
    attributes = {name.lower(): double or single
                  for name, double, single in _ATTRIBUTE.findall(match.group("attrs"))}
    if set(attributes) - {"time", "strength"}:
        return None
    if "time" in attributes:
        return _length(attributes["time"])
    return STRENGTHS.get(attributes.get("strength", "medium").strip().lower())
