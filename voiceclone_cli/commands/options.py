"""Options shared by ``say`` and ``batch``, declared once so their help and limits agree."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

StrictSample = Annotated[bool, typer.Option("--strict-sample", help="Refuse a sample that is too long or large instead of fitting it.")]
Retries = Annotated[Optional[int], typer.Option(min=0, max=20, help="Retries after 429, 5xx and network errors. \\[default: 4]", show_default=False)]
Timeout = Annotated[Optional[float], typer.Option(min=0.1, max=3600, help="Read timeout per request, seconds. \\[default: 120]", show_default=False)]
Endpoint = Annotated[Optional[str], typer.Option(help="API base URL. \\[default: https://aivoiceclonefree.com]", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--api-key", help="API key. Visible in the process list: prefer VOICECLONE_API_KEY or 'voiceclone config set api-key'.", show_default=False)]
Local = Annotated[bool, typer.Option("--local", help="Clone offline on the CPU (needs the 'local' extra); no API key, nothing leaves the machine.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Use no cache at all: request every chunk again (answers are neither read from nor saved to the response cache) and, with --local, analyse the sample again.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check everything and print the requests, characters, cached chunks and estimated audio minutes, without sending anything or writing any file. Needs no API key.")]
Debug = Annotated[bool, typer.Option("--debug", help="Tracebacks and a redacted request log on stderr.")]
