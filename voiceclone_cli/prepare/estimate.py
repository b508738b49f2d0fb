"""How long text will take to speak, known before any audio exists (dry runs, --list, sizes).

About 15 characters a second at speed 1.0 (some 150 words a minute, a usual narration pace);
the real length depends on the voice. Nothing heavy is imported here: ``book --list`` uses it.
"""

from __future__ import annotations

CHARS_PER_SECOND = 15.0


def estimate_seconds(characters: int, speed: float = 1.0) -> float:
    return characters / CHARS_PER_SECOND / speed
