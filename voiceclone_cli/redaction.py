"""Secrets registered here are scrubbed from every message, log line and traceback we print."""

from __future__ import annotations

import re

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/+")


def redact_url(text: str) -> str:
    """``text`` with any user-info (``user:password@``) replaced by ``****@``.

    Deliberately blunt: everything between the scheme and the *last* ``@`` goes, so a password
    holding ``/``, ``?`` or ``@`` — which URL parsers split in surprising places — never shows.
    """
    at = text.rfind("@")
    if at < 0:
        return text
    scheme = _SCHEME.match(text)
    start = scheme.end() if scheme and scheme.end() <= at else 0
    return text[:start] + "****" + text[at:]
