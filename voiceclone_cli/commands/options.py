"""Options shared by ``say`` and ``batch``, declared once so their help and limits agree.

Every option that takes a value has a metavar saying what to type (``N``, ``SECONDS``, a range
such as ``0.5..2.0``); help shows it instead of the Python type (see ``presentation``).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from voiceclone_cli.limits import PITCH_MAX, PITCH_MIN, SPEED_MAX, SPEED_MIN

SPEED_LIMITS = {"min": SPEED_MIN, "max": SPEED_MAX, "metavar": f"{SPEED_MIN}..{SPEED_MAX}"}
PITCH_LIMITS = {"min": PITCH_MIN, "max": PITCH_MAX, "metavar": f"{PITCH_MIN}..{PITCH_MAX}"}

StrictSample = Annotated[bool, typer.Option("--strict-sample", help="Refuse a sample that is too long or large instead of fitting it.")]
Retries = Annotated[Optional[int], typer.Option(metavar="N", min=0, max=20, help="Retries after 429, 5xx and network errors. \\[default: 4]", show_default=False)]
Timeout = Annotated[Optional[float], typer.Option(metavar="SECONDS", min=0.1, max=3600, help="Seconds one request attempt may take, from connecting to the last byte. \\[default: 120]", show_default=False)]
Endpoint = Annotated[Optional[str], typer.Option(metavar="URL", help="API base URL. \\[default: https://aivoiceclonefree.com]", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--api-key", metavar="KEY", help="API key. Visible in the process list: prefer VOICECLONE_API_KEY or 'voiceclone config set api-key'.", show_default=False)]
Local = Annotated[bool, typer.Option("--local", help="Clone offline on the CPU (needs the 'local' extra); no API key, nothing leaves the machine.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="With --local: analyse the sample again instead of using the cached voice profile.")]
Debug = Annotated[bool, typer.Option("--debug", help="Tracebacks and a redacted request log on stderr.")]
