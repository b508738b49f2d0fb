"""Output formats, all written by soundfile's bundled libsndfile (no system codecs).

Each format's limits are known here, so a combination the encoder would refuse is caught
before any request is paid for, not when the first chunk is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voiceclone_cli.errors import UsageError


@dataclass(frozen=True)
class OutputFormat:
    name: str
    container: str  # soundfile "format"
    subtype: str  # soundfile "subtype"
    rates: tuple[int, ...] | None = None  # the only rates the encoder takes, if limited

    def accepts(self, rate: int) -> bool:
        return self.rates is None or rate in self.rates

    def rate_for(self, rate: int) -> int:
        """``rate`` if the encoder takes it, else the nearest rate it takes (higher first)."""
        if self.accepts(rate):
            return rate
        higher = [r for r in self.rates if r >= rate]
        return min(higher) if higher else max(self.rates)


FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "WAV", "PCM_16"),
    "flac": OutputFormat("flac", "FLAC", "PCM_16"),
    "ogg": OutputFormat("ogg", "OGG", "VORBIS"),
    "mp3": OutputFormat("mp3", "MP3", "MPEG_LAYER_III",
                        rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
}
# A RIFF/WAVE file records its sizes in 32 bits: past this many bytes the header cannot say
# how long the audio is. Longer WAV output is written as RF64 (EBU Tech 3306), which can.
WAV_MAX_BYTES = 0xFFFFFFFF
RF64 = OutputFormat("wav", "RF64", "PCM_16")
_ALIASES = {"wave": "wav", "oga": "ogg", "vorbis": "ogg"}
SUPPORTED = ", ".join(FORMATS)


def lookup(name: str) -> OutputFormat:
    key = _ALIASES.get(name.lower().lstrip("."), name.lower().lstrip("."))
    if key not in FORMATS:
        raise UsageError(f"unsupported output format {name!r}", hint=f"use one of: {SUPPORTED}")
    return FORMATS[key]


def check_rate(fmt: OutputFormat, rate: int | None) -> None:
    """Refuse ``--sample-rate`` values the chosen encoder cannot write (before any request)."""
    if rate is not None and not fmt.accepts(rate):
        shown = ", ".join(str(r) for r in fmt.rates or ())
        raise UsageError(
            f"{fmt.name} cannot be written at {rate} Hz",
            hint=f"use --sample-rate {fmt.rate_for(rate)} (it takes {shown}), or another format",
        )


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
