"""Subtitle files (SRT, WebVTT) from the sentence cues of the speech pipeline.

The cues carry the time each sentence really occupies in the written audio (see
``speech.assemble``); these writers only format them. Files are written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from voiceclone_cli.errors import OutputError, UsageError
from voiceclone_cli.output.atomic import atomic_write_bytes

SUBTITLE_FORMATS = {".srt": "srt", ".vtt": "vtt"}


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _one_line(text: str) -> str:
    """A blank line ends a cue in both formats, and ``-->`` starts a timing line in WebVTT."""
    return " ".join(text.split()).replace("-->", "->")


def render_srt(cues: Iterable) -> str:
    blocks = []
    for number, cue in enumerate(cues, start=1):
        blocks.append(f"{number}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n{_one_line(cue.text)}\n")
    return "\n".join(blocks)


def render_vtt(cues: Iterable) -> str:
    blocks = ["WEBVTT\n"]
    for cue in cues:
        blocks.append(f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}\n{_one_line(cue.text)}\n")
    return "\n".join(blocks)


def check_subtitle_path(path: Path, kind: str) -> None:
    """Refuse before any work a subtitle path whose extension says another format."""
    suffix = Path(path).suffix.lower()
    if suffix in SUBTITLE_FORMATS and SUBTITLE_FORMATS[suffix] != kind:
        raise UsageError(f"--{kind} {path} has a {suffix} extension",
                         hint=f"name it {Path(path).with_suffix('.' + kind).name}, or use --{SUBTITLE_FORMATS[suffix]}")


def write_subtitles(cues: list, *, srt: Path | None = None, vtt: Path | None = None) -> None:
    for path, render in ((srt, render_srt), (vtt, render_vtt)):
        if path is None:
            continue
        try:
            atomic_write_bytes(Path(path), render(cues).encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
