"""Pause markup in the text: ``[pause 1.5s]``, ``[pause 300ms]``, ``<break time="500ms"/>``.

A pause becomes silence of that length in the audio. It is never sent to an engine as text and
always splits a chunk. ``--no-markup`` speaks such text literally.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pause:
    seconds: float


Segment = str | Pause  # text to speak, or silence


def parse_markup(text: str) -> list[Segment]:
    """Text and pauses in order; adjacent text is merged, empty text dropped.

    To be implemented (book helper A). Until then: no markup is recognised.
    """
    return [text] if text else []
