"""One error hierarchy for the whole core.

Core code raises these; exactly one place (``voiceclone_cli.cli``) turns them into a one-line
message with a hint and a stable exit code. Exit codes are part of the public interface and
are documented in the README: never renumber them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # bad flags or arguments
    INVALID_INPUT = 3  # sample, text, config value or batch input refused
    AUTH = 4  # missing, rejected or under-privileged API key
    RATE_LIMITED = 5  # still HTTP 429 after every retry
    SERVER = 6  # server error, network failure, broken responses
    OUTPUT = 7  # the output could not be written
    ENGINE_UNAVAILABLE = 8  # the selected engine is not installed
    PLAYBACK = 9  # no audio device or player
    PARTIAL = 10  # a batch finished with failed lines
    HANGUP = 129  # SIGHUP (the terminal went away)
    INTERRUPTED = 130  # Ctrl-C / SIGINT
    TERMINATED = 143  # SIGTERM


class VoicecloneError(Exception):
    """Base of every expected failure: a message for people plus a hint on what to do next."""

    exit_code: ExitCode = ExitCode.INTERNAL
    default_hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return self.message


class UsageError(VoicecloneError):
    exit_code = ExitCode.USAGE


class InputError(VoicecloneError):
    exit_code = ExitCode.INVALID_INPUT


class SampleError(InputError):
    """The voice sample cannot be used (format, length, silence, decoding)."""


class TextError(InputError):
    """The text to speak is empty or unreadable."""


class ConfigError(InputError):
    """A setting has an invalid value."""


class AuthError(VoicecloneError):
    exit_code = ExitCode.AUTH


class MissingApiKeyError(AuthError):
    default_hint = (
        "set VOICECLONE_API_KEY, or run 'voiceclone config set api-key' "
        "(or use --local to clone offline)"
    )


class RateLimitedError(VoicecloneError):
    exit_code = ExitCode.RATE_LIMITED
    default_hint = "wait a minute and run again, or raise --retries"


class ServerError(VoicecloneError):
    """The service failed: 5xx, unreachable, timed out or sent a broken response."""

    exit_code = ExitCode.SERVER


class OutputError(VoicecloneError):
    exit_code = ExitCode.OUTPUT


class EngineUnavailableError(VoicecloneError):
    exit_code = ExitCode.ENGINE_UNAVAILABLE


class PlaybackError(VoicecloneError):
    exit_code = ExitCode.PLAYBACK
    default_hint = "write a file instead with -o out.wav"


class PartialFailureError(VoicecloneError):
    exit_code = ExitCode.PARTIAL


class Interrupted(VoicecloneError):
    """Raised where work stops on Ctrl-C so callers can clean up before exiting 130."""

    exit_code = ExitCode.INTERRUPTED


def open_error(exc: OSError, what: str, path: object, option: str, error: type[VoicecloneError] = InputError) -> VoicecloneError:
    """One wording for a file that cannot be opened, whatever reads it (``what``: "sample",
    "text file", "input", …; ``option``: the flag that named it, for the hint)."""
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return error(f"{what} not found: {path}", hint=f"check the path given to {option}")
    if isinstance(exc, IsADirectoryError):
        return error(f"{what} is a directory: {path}", hint=f"give a file to {option}")
    if isinstance(exc, PermissionError):
        return error(f"cannot read {what} {path}: permission denied",
                     hint="check the permissions of the file and its folders")
    return error(f"cannot read {what} {path}: {exc.strerror or exc}")
