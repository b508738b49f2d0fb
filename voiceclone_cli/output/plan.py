"""Deciding where the audio goes, from the output options, before any work is done.

Conflicting options are refused here as usage errors, a missing output directory as an output
error and a machine that cannot play as a playback error, so none of them costs a request.

What is at the output path matters as much as the options: an output that is one of the
command's own inputs is refused (it would be destroyed); a symbolic link is kept and its
destination written; a FIFO or a character device (``/dev/null``, ``/dev/stdout``) is streamed
into like stdout, because renaming a finished file over it would replace the device itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from voiceclone_cli.output.atomic import remove_stale_temps, replaceable_target
from voiceclone_cli.errors import OutputError, PlaybackError, UsageError
from voiceclone_cli.output.formats import FORMATS, OutputFormat, check_rate, format_for, lookup
from voiceclone_cli.output.sinks import AudioFileSink, RawStreamSink, Sink, TeeSink, WavStreamSink

# Upper bound of speech length per character, for choosing a WAV container that can hold the
# result before it exists (slow speech is ~10 characters a second; this allows 5).
UPPER_SECONDS_PER_CHAR = 0.2


@dataclass(frozen=True)
class NamedInput:
    """A file the command reads, and what to call it when an output would overwrite it."""

    path: Path
    role: str  # "the voice sample", "the text file", …


@dataclass
class OutputPlan:
    sink: Sink
    path: Path | None  # the file written, as the user named it, if any
    auto_named: bool  # the user has not seen this name yet
    to_stdout: bool


@dataclass(frozen=True)
class OutputTarget:
    shown: Path  # as the user named it
    path: Path  # where the finished file is renamed to (a link's destination)
    stream: bool  # a FIFO or device: written in place, never renamed over


def same_file(a: Path, b: Path) -> bool:
    """The same file by device and inode (hard links, symlinks, ``./x`` vs ``x``) or by path."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def refuse_if_input(path: Path, inputs: Sequence[NamedInput], option: str) -> None:
    for named in inputs:
        if same_file(path, named.path):
            raise UsageError(
                f"{option} {path} is {named.role} ({named.path}): writing it would destroy it",
                hint=f"give {option} another file name",
            )


def inspect_output(path: Path, *, inputs: Sequence[NamedInput] = (), option: str = "-o") -> OutputTarget:
    """Fail before any work if the result could not be saved at ``path``, or must not be."""
    path = Path(path)
    refuse_if_input(path, inputs, option)
    try:
        info = os.stat(path)  # follows links: what is really there
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot use {option} {path}: {exc.strerror}") from None
    if info is not None:
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise OutputError(f"{option} {path} is a directory", hint=f"give a file name, e.g. {option} out.wav")
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return OutputTarget(path, path, stream=True)
        if not stat.S_ISREG(mode):
            kind = "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file"
            raise OutputError(f"{option} {path} is {kind}; refusing to write over it",
                              hint=f"give {option} a file name")
        if os.path.abspath(path).startswith(("/dev/", "/proc/")):  # e.g. /dev/stdout > file
            return OutputTarget(path, path, stream=True)
    target = replaceable_target(path)
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: the directory {parent} does not exist",
                          hint=f"create it (mkdir -p {parent}) or choose another {option} path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: the directory {parent} is not writable",
                          hint=f"choose another {option} path")
    remove_stale_temps(parent, targets=lambda name: name == target.name)
    return OutputTarget(path, target, stream=False)


def open_stream_target(target: OutputTarget, option: str = "-o") -> BinaryIO:
    """Open a FIFO or device for writing (a FIFO waits here for its reader, before any work)."""
    try:
        fd = os.open(target.path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise OutputError(f"cannot open {option} {target.shown}: {exc.strerror}") from None
    if os.isatty(fd):
        os.close(fd)
        raise UsageError("refusing to write audio to a terminal",
                         hint="redirect it (> out.wav), pipe it, or use -o FILE")
    return os.fdopen(fd, "wb")


def reserve_default_name(ext: str, directory: Path | None = None, now: datetime | None = None) -> Path:
    """Claim ``voiceclone-YYYYMMDD-HHMMSS.EXT`` (or ``-2``, ``-3`` …) by creating it exclusively.

    Two runs started in the same second can no longer pick the same name: the placeholder is
    created atomically, then replaced by the finished file (or removed if the run fails).
    """
    directory = directory or Path()  # relative: the name is printed as the user will type it
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    counter = 1
    while True:
        suffix = "" if counter == 1 else f"-{counter}"
        candidate = directory / f"voiceclone-{stamp}{suffix}.{ext}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate
        except FileExistsError:
            counter += 1
        except OSError as exc:
            raise OutputError(f"cannot create {candidate}: {exc.strerror}",
                              hint="run it in a writable folder, or give -o FILE") from None


def plan_output(
    *,
    output: str | None,
    format_name: str | None,
    raw: bool,
    play: bool,
    as_json: bool,
    stdout: BinaryIO | None,
    stdout_is_terminal: bool,
    on_raw_open: Callable[[int], None] | None = None,
    inputs: Sequence[NamedInput] = (),
    sample_rate: int | None = None,
    text_chars: int = 0,
    speed: float = 1.0,
) -> OutputPlan:
    """Every refusal about the output happens here, before the first request.

    ``stdout`` is None when the process was started with it closed.
    """
    sinks: list[Sink] = []
    path: Path | None = None
    auto = False
    to_stdout = raw or output == "-" or (output is None and not play and not stdout_is_terminal)
    expected_seconds = text_chars * UPPER_SECONDS_PER_CHAR / max(speed, 0.5)
    if raw and output not in (None, "-"):
        raise UsageError("--raw writes to stdout", hint="drop -o FILE, or drop --raw")
    if to_stdout:
        if stdout_is_terminal:
            raise UsageError(
                "refusing to write audio to a terminal",
                hint="redirect it (> out.wav), pipe it, or use -o FILE",
            )
        if as_json:
            raise UsageError("--json needs -o FILE: stdout is carrying the audio")
        if stdout is None:
            raise OutputError("stdout is closed, so the audio has nowhere to go",
                              hint="redirect it (> out.wav) or use -o FILE")
        if raw:
            if format_name:
                raise UsageError("--raw is headerless PCM; it cannot be combined with --format")
            sinks.append(RawStreamSink(stdout, on_raw_open))
        else:
            _require_wav_stream(format_name, "stdout")
            sinks.append(WavStreamSink(stdout))
    elif output is not None or not play:
        path = Path(output) if output is not None else None
        fmt: OutputFormat = format_for(path, format_name)
        check_rate(fmt, sample_rate)
        if path is None:
            path, auto = reserve_default_name(fmt.name), True
            sinks.append(AudioFileSink(path, fmt, reserved=True, expected_seconds=expected_seconds))
        else:
            target = inspect_output(path, inputs=inputs)
            if target.stream:
                _require_wav_stream(format_name if format_name else path.suffix.lstrip(".") or None, str(path))
                sinks.append(WavStreamSink(open_stream_target(target), str(path), owns_stream=True))
            else:
                sinks.append(AudioFileSink(target.path, fmt, shown=path, expected_seconds=expected_seconds))
    elif as_json:
        raise UsageError("--json needs -o FILE")
    if play:
        from voiceclone_cli.output.players import PlayerSink, find_player

        try:
            player = find_player()
        except PlaybackError as exc:
            for sink in sinks:
                sink.abort()
            if path is not None and not auto:
                raise PlaybackError(exc.message, hint=f"drop --play to only save {path}") from None
            raise
        sinks.insert(0, PlayerSink(player))
    sink = sinks[0] if len(sinks) == 1 else TeeSink(sinks)
    return OutputPlan(sink, path, auto, to_stdout)


def _require_wav_stream(format_name: str | None, where: str) -> None:
    """Streams carry WAV with an open-ended header; compressed formats need a real file."""
    if not format_name:
        return
    try:
        fmt = lookup(format_name)
    except UsageError:
        return  # an unknown extension on a device name (/dev/null) is no reason to refuse
    if fmt != FORMATS["wav"]:
        raise UsageError(
            f"{where} carries WAV (or --raw PCM), not {format_name}",
            hint=f"write it to a file: -o out.{fmt.name}",
        )
