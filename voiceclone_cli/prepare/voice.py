"""Where a voice comes from: a sample file (checked and fitted) or a saved voice by name.

Both give the same thing, a ``PreparedSample``: the exact bytes an engine uploads or analyses.
A saved voice's stored sample is byte for byte what ``prepare_sample`` made of its original
file, so the two hit the same response-cache entries and local voice profiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from voiceclone_cli.errors import UsageError

if TYPE_CHECKING:
    from voiceclone_cli.prepare.sample import PreparedSample


def load_voice_sample(*, sample: Path | None = None, voice: str | None = None,
                      strict: bool = False) -> PreparedSample:
    """The prepared sample of ``--sample PATH`` or ``--voice NAME`` (exactly one of them)."""
    if sample is not None and voice is not None:
        raise UsageError("give --sample or --voice, not both",
                         hint="--voice NAME uses a saved voice; --sample PATH a file")
    if voice is not None:
        from voiceclone_cli.voices.library import VoiceLibrary

        return VoiceLibrary().get(voice).prepared_sample()
    if sample is None:
        raise UsageError("missing --sample or --voice",
                         hint='voiceclone say --sample me.wav "Hello there" (or --voice NAME: voiceclone voices list)')
    from voiceclone_cli.prepare.sample import prepare_sample

    return prepare_sample(sample, strict=strict)
