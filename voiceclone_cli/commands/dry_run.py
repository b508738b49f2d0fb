"""The ``--dry-run`` report shared by ``say`` and ``batch``: one JSON object on stdout with
``--json``, otherwise aligned lines for people on stderr."""

from __future__ import annotations

import json
from typing import Any

from voiceclone_cli.commands.common import emit, info

ESTIMATE_NOTE = "estimated at 15 characters a second of speech, divided by the speed"


def report(summary: dict[str, Any], rows: list[tuple[str, str]], *, as_json: bool, quiet: bool) -> None:
    """``summary`` is the JSON object; ``rows`` are its human lines as (label, value)."""
    if as_json:
        emit(json.dumps({"dry_run": True, **summary}))
        return
    info("dry run: nothing was sent and no file was written", quiet)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        info(f"  {label:<{width}}  {value}", quiet)


def cost_rows(*, requests: int, chunks: int, cached: int, characters: int, audio_seconds: float) -> list[tuple[str, str]]:
    return [
        ("requests", f"{requests}" + (f" ({cached} of {chunks} chunks already in the response cache)" if cached else "")),
        ("characters", f"{characters:,}"),
        ("audio", f"about {_duration(audio_seconds)} ({ESTIMATE_NOTE})"),
    ]


def cost_fields(*, requests: int, chunks: int, cached: int, characters: int, audio_seconds: float) -> dict[str, Any]:
    return {"requests": requests, "chunks": chunks, "cached_chunks": cached, "characters": characters,
            "audio_minutes_estimate": round(audio_seconds / 60, 2)}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"
