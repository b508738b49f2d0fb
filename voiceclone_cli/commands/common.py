"""Helpers shared by the commands: messages on stderr, logging, settings, terminals.

stdout carries data only (audio, ``--json``, values asked for); people's messages, warnings and
progress go to stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from voiceclone_cli.commands.environment import current
from voiceclone_cli.errors import UsageError
from voiceclone_cli.redaction import register_secret, scrub

PROG = "voiceclone"
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # every command and group accepts -h


def err(message: str) -> None:
    """One line for people, on stderr, scrubbed of secrets.

    Never anywhere else: with stderr closed (``2>&-``) Python's ``print(file=None)`` would
    write to stdout, into the audio. A stderr that fails is not worth failing the run for.
    """
    stream = current().stderr
    if stream is None:
        return
    try:
        stream.write((scrub(message) + "\n").encode("utf-8", "replace"))
        stream.flush()
    except (OSError, ValueError):
        pass


_emitted = False  # whether this run has put data on stdout (then a failure adds no JSON error)


def data_emitted() -> bool:
    return _emitted


def emit(text: str) -> None:
    """One line of data on stdout (``--json``, values asked for); a failed write is exit 7."""
    global _emitted
    from voiceclone_cli.errors import OutputError

    _emitted = True
    stream = current().stdout
    if stream is None:
        raise OutputError("stdout is closed", hint="redirect it (> out.json) instead of closing it")
    try:
        stream.write((str(text) + "\n").encode("utf-8", "replace"))
        stream.flush()
    except BrokenPipeError:
        raise OutputError("the program reading stdout closed the pipe", hint="") from None
    except OSError as exc:
        raise OutputError(f"cannot write to stdout: {exc.strerror}",
                          hint="free some space, or send stdout elsewhere") from None


def line(text: str, kind: str = "") -> str:
    """How every message for people reads: ``voiceclone: [kind: ]text``."""
    return f"{PROG}: {kind}: {text}" if kind else f"{PROG}: {text}"


def info(message: str, quiet: bool = False) -> None:
    if not quiet:
        err(line(message))


def warn(message: str, quiet: bool = False) -> None:
    if not quiet:
        err(line(message, "warning"))


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            kind = "warning" if record.levelno >= logging.WARNING else "" if record.levelno >= logging.INFO else "debug"
            shown = line(text, kind)
            if record.exc_info:
                import traceback

                shown += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            err(shown)
        except Exception:  # pragma: no cover - logging must never crash the tool
            self.handleError(record)


def human_size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def setup_logging(*, quiet: bool = False, debug: bool = False) -> None:
    """Route the core's log records to stderr at the verbosity the flags ask for."""
    logger = logging.getLogger("voiceclone")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_StderrHandler())
    logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO)


def stdout_is_terminal() -> bool:
    return current().stdout_isatty


def stdin_is_terminal() -> bool:
    return current().stdin_isatty


def stderr_is_terminal() -> bool:
    return current().stderr_isatty


def binary_stdout():
    """stdout for bytes, or None if the process was started with stdout closed."""
    return current().stdout


def binary_stdin():
    return current().stdin


def begin_run() -> None:
    """Forget what an earlier run in this process wrote (``main`` may run more than once)."""
    global _emitted
    _emitted = False


def load_settings(flags: Mapping[str, Any] | None = None, quiet: bool = False, strict: bool = True):
    """Resolve settings, show config-file warnings, and register the key for scrubbing."""
    from voiceclone_cli.settings import resolve

    if flags:
        register_secret(flags.get("api-key"))
    register_secret(current().env.get("VOICECLONE_API_KEY"))
    settings = resolve(flags, env=current().env, strict=strict)
    register_secret(settings.api_key)
    if not quiet:
        for warning in settings.config.warnings:
            warn(warning)
    return settings


def open_engine(*, engine: str | None, local: bool, no_cache: bool, flags: Mapping[str, Any],
                quiet: bool, max_workers: int = 8, dry_run: bool = False):
    """The chosen engine — ``--local``, ``--engine NAME`` or the ``engine`` setting — behind the
    response cache unless ``no_cache``, with its model loading in the background. Settings and
    the key are checked here, before any work; a dry run needs no key (it sends nothing)."""
    from voiceclone_cli.engines.cached import CachedEngine
    from voiceclone_cli.engines.registry import get_engine
    from voiceclone_cli.engines.response_cache import ResponseCache

    if local and engine not in (None, "local"):
        raise UsageError(f"--local is short for --engine local; it cannot go with --engine {engine}",
                         hint="drop one of them")
    settings = load_settings(flags, quiet)
    cache = None if no_cache else ResponseCache()  # a bad cache size is refused before any work
    chosen = get_engine("local" if local else engine or settings.engine, settings, max_workers=max_workers,
                        use_cache=not no_cache, require_key=not dry_run, quiet=quiet)
    if not dry_run and callable(getattr(chosen, "warm_up", None)):
        chosen.warm_up()
    return chosen if cache is None else CachedEngine(chosen, cache)
