"""Deciding where the audio goes, from the output options, before any work is done.

Conflicting options are refused here as usage errors, a missing output directory as an output
error and a machine that cannot play as a playback error, so none of them costs a request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from voiceclone_cli.errors import UsageError
from voiceclone_cli.formats import FORMATS, OutputFormat, format_for, lookup
from voiceclone_cli.sinks import (
    AudioFileSink,
    RawStreamSink,
    Sink,
    TeeSink,
    WavStreamSink,
    check_output_path,
    default_output_path,
)


@dataclass
class OutputPlan:
    sink: Sink
    path: Path | None  # the file written, if any
    auto_named: bool  # the user has not seen this name yet
    to_stdout: bool


def plan_output(
    *,
    output: str | None,
    format_name: str | None,
    raw: bool,
    play: bool,
    as_json: bool,
    stdout: BinaryIO,
    stdout_is_terminal: bool,
    on_raw_open: Callable[[int], None] | None = None,
) -> OutputPlan:
    sinks: list[Sink] = []
    path: Path | None = None
    auto = False
    to_stdout = raw or output == "-" or (output is None and not play and not stdout_is_terminal)
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
        if raw:
            if format_name:
                raise UsageError("--raw is headerless PCM; it cannot be combined with --format")
            sinks.append(RawStreamSink(stdout, on_raw_open))
        else:
            if format_name and lookup(format_name) != FORMATS["wav"]:
                raise UsageError(
                    f"stdout carries WAV (or --raw PCM), not {format_name}",
                    hint=f"write it to a file: -o out.{lookup(format_name).name}",
                )
            sinks.append(WavStreamSink(stdout))
    elif output is not None or not play:
        path = Path(output) if output is not None else None
        fmt: OutputFormat = format_for(path, format_name)
        if path is None:
            path, auto = default_output_path(ext=fmt.name), True
        check_output_path(path)
        sinks.append(AudioFileSink(path, fmt))
    elif as_json:
        raise UsageError("--json needs -o FILE")
    if play:
        from voiceclone_cli.players import PlayerSink, find_player

        sinks.insert(0, PlayerSink(find_player()))
    sink = sinks[0] if len(sinks) == 1 else TeeSink(sinks)
    return OutputPlan(sink, path, auto, to_stdout)
