"""Options shared by ``say`` and ``batch``, declared once so their help and limits agree.

Every option that takes a value has a metavar saying what to type (``N``, ``SECONDS``, a range
such as ``0.5..2.0``); help shows it instead of the Python type (see ``presentation``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voiceclone_cli.limits import PITCH_MAX, PITCH_MIN, SPEED_MAX, SPEED_MIN

def number_between(low: float, high: float) -> dict[str, Any]:
    """``typer.Option`` settings for a float in [low, high] that also refuse NaN and infinity.

    Typer's own range check only compares, so a NaN fails it with "should be less than or
    equal to"; the parser says what is wrong. ``min``/``max`` stay for the range in --help.
    """

    def parse(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise typer.BadParameter(f"{value!r} is not a number") from None
        if not math.isfinite(number):
            raise typer.BadParameter(f"{value!r} is not a number; give one from {low:g} to {high:g}")
        if not low <= number <= high:
            raise typer.BadParameter(f"{value} is outside {low:g} to {high:g}")
        return number

    return {"min": low, "max": high, "parser": parse}


StrictSample = Annotated[bool, typer.Option("--strict-sample", help="Refuse a sample that is too long or large instead of fitting it.")]
Retries = Annotated[Optional[int], typer.Option(metavar="N", min=0, max=20, help="Retries after 429, 5xx and network errors. \\[default: 4]", show_default=False)]
Timeout = Annotated[Optional[float], typer.Option(metavar="SECONDS", **number_between(0.1, 3600), help="Seconds one request attempt may take, from connecting to the last byte. \\[default: 120]", show_default=False)]
Endpoint = Annotated[Optional[str], typer.Option(metavar="URL", help="API base URL. \\[default: https://aivoiceclonefree.com]", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--api-key", metavar="KEY", help="API key. Visible in the process list: prefer VOICECLONE_API_KEY or 'voiceclone config set api-key'.", show_default=False)]
Local = Annotated[bool, typer.Option("--local", help="Short for --engine local: clone offline on the CPU (needs the 'local' extra); no API key, nothing leaves the machine.")]
EngineName = Annotated[Optional[str], typer.Option("--engine", metavar="NAME", help="The engine that speaks: remote, local, or an installed plugin ('voiceclone engines' lists them). \\[default: the engine setting, remote]", show_default=False)]
VoiceName = Annotated[Optional[str], typer.Option("--voice", metavar="VOICE", help="A saved voice, instead of --sample ('voiceclone voices list').", show_default=False)]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Use no cache at all: request every chunk again (answers are neither read from nor saved to the response cache) and, with --local or --engine pocket, analyse the sample again (a saved voice's kept state too).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check everything and print the requests, characters, cached chunks and estimated audio minutes, without sending anything or writing any file. Needs no API key.")]
Debug = Annotated[bool, typer.Option("--debug", help="Tracebacks and a redacted request log on stderr.")]


SPEED_LIMITS = {**number_between(SPEED_MIN, SPEED_MAX), "metavar": f"{SPEED_MIN}..{SPEED_MAX}"}
PITCH_LIMITS = {**number_between(PITCH_MIN, PITCH_MAX), "metavar": f"{PITCH_MIN}..{PITCH_MAX}"}

# Text controls, shared by say, batch and book.
LexiconFile = Annotated[Optional[Path], typer.Option("--lexicon", metavar="FILE", help="Pronunciation rules, one a line: 'word = replacement' or 're:PATTERN = replacement'; applied after cleaning, before chunking.", show_default=False)]
NoMarkup = Annotated[bool, typer.Option("--no-markup", help="Speak pause markup (\\[pause 1.5s], <break time=\"500ms\"/>) literally instead of as silence.")]
SrtFile = Annotated[Optional[Path], typer.Option("--srt", metavar="FILE", help="Also write SRT subtitles: one cue per sentence, timed to the audio written.", show_default=False)]
VttFile = Annotated[Optional[Path], typer.Option("--vtt", metavar="FILE", help="Also write WebVTT subtitles: one cue per sentence, timed to the audio written.", show_default=False)]


def load_lexicon(path: Path | None) -> Any:
    """The rules of ``--lexicon`` (None without it); a bad rule is refused before any work."""
    if path is None:
        return None
    from voiceclone_cli.prepare.lexicon import Lexicon

    return Lexicon.load(path)


def check_subtitles(srt: Path | None, vtt: Path | None, inputs: list) -> None:
    """Refuse subtitle paths that are inputs, directories or unwritable, before any work."""
    from voiceclone_cli.output.plan import inspect_output
    from voiceclone_cli.output.subtitles import check_subtitle_path

    for path, kind in ((srt, "srt"), (vtt, "vtt")):
        if path is not None:
            check_subtitle_path(path, kind)
            inspect_output(path, inputs=inputs, option=f"--{kind}")
