"""The hosted service's contract, in one place: every check, help text and validator reads it.

From the provider's page (sync-clone): text at most 1000 characters per request; the sample
WAV, MP3 or M4A, 5-30 seconds, at most 4.5 MB; speed 0.5-2.0; pitch -1.0-1.0. Engines of
their own may take less text per call (``Engine.max_chunk_chars``), never more than they say.
"""

from __future__ import annotations

MAX_TEXT_CHARS = 1000  # per request

SPEED_MIN, SPEED_MAX, SPEED_DEFAULT = 0.5, 2.0, 1.0
PITCH_MIN, PITCH_MAX, PITCH_DEFAULT = -1.0, 1.0, 0.0

SAMPLE_MIN_SECONDS = 5.0
SAMPLE_MAX_SECONDS = 30.0
SAMPLE_MAX_BYTES = 4_500_000  # "4.5MB": the decimal reading is the safe one
SAMPLE_FORMATS = ("WAV", "MP3", "M4A")

SPEED_RANGE = (SPEED_MIN, SPEED_MAX)
PITCH_RANGE = (PITCH_MIN, PITCH_MAX)
SAMPLE_HELP = (f"Voice sample: {', '.join(SAMPLE_FORMATS[:-1])} or {SAMPLE_FORMATS[-1]}, "
               f"{SAMPLE_MIN_SECONDS:g}-{SAMPLE_MAX_SECONDS:g} s.")
SAMPLE_WINDOW = f"{SAMPLE_MIN_SECONDS:g}-{SAMPLE_MAX_SECONDS:g} s"  # as hints say it: "record 5-30 s"
