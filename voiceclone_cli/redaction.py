"""Secrets registered here are scrubbed from every message, log line and traceback we print."""

from __future__ import annotations

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text
