"""Output formats, all written by soundfile's bundled libsndfile (no system codecs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voiceclone_cli.errors import UsageError


@dataclass(frozen=True)
class OutputFormat:
    name: str
    container: str  # soundfile "format"
    subtype: str  # soundfile "subtype"
    max_rate: int | None = None  # encoder limit, if any


FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "WAV", "PCM_16"),
    "flac": OutputFormat("flac", "FLAC", "PCM_16"),
    "ogg": OutputFormat("ogg", "OGG", "VORBIS"),
    "mp3": OutputFormat("mp3", "MP3", "MPEG_LAYER_III", max_rate=48000),
}
_ALIASES = {"wave": "wav", "oga": "ogg", "vorbis": "ogg"}
SUPPORTED = ", ".join(FORMATS)


def lookup(name: str) -> OutputFormat:
    key = _ALIASES.get(name.lower().lstrip("."), name.lower().lstrip("."))
    if key not in FORMATS:
        raise UsageError(f"unsupported output format {name!r}", hint=f"use one of: {SUPPORTED}")
    return FORMATS[key]


def format_for(path: Path | None, explicit: str | None) -> OutputFormat:
    """``--format`` if given, else the file's extension, else WAV.

    A known audio extension that contradicts ``--format`` is refused rather than producing,
    say, FLAC bytes in a file named ``.wav``.
    """
    suffix = path.suffix.lower().lstrip(".") if path is not None else ""
    if explicit:
        chosen = lookup(explicit)
        if suffix and suffix in (set(FORMATS) | set(_ALIASES)) and lookup(suffix) != chosen:
            raise UsageError(
                f"-o {path.name} does not match --format {explicit}",
                hint=f"name the file .{chosen.name} or drop --format",
            )
        return chosen
    if not suffix:
        return FORMATS["wav"]
    try:
        return lookup(suffix)
    except UsageError:
        raise UsageError(
            f"unknown output extension .{suffix}",
            hint=f"use one of: {SUPPORTED} (or set --format)",
        ) from None
