"""``voiceclone say``: parse options, pick text/sample/output, call ``speech.speak``, report."""


import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from voiceclone_cli.commands.common import (
    binary_stdin,
    binary_stdout,
    emit,
    info,
    open_engine,
    setup_logging,
    stdin_is_terminal,
    stdout_is_terminal,
)
from voiceclone_cli.commands import options
from voiceclone_cli.errors import UsageError
from voiceclone_cli.limits import SAMPLE_HELP
from voiceclone_cli.output.formats import FORMATS

EXAMPLES = """\
[bold]Examples[/bold]

  voiceclone say --sample me.wav "Hello there" -o hello.wav

  voiceclone say -s me.wav -f chapter.txt -o chapter.wav

  echo "Piped text" | voiceclone say -s me.wav -o - > out.wav

  voiceclone say --local -s examples/sample.wav "No account needed" -o local.wav

  voiceclone say -s me.wav -f chapter.txt --play -o chapter.mp3
"""

SPEED_HELP = "Speech speed (1.0 = natural). With --engine pocket, a time-stretch after synthesis (same pitch)."
PITCH_HELP = "Pitch shift (0 = unchanged; 1.0 = an octave up offline). With --engine pocket, a pitch shift after synthesis (same length)."


def format_names(incomplete: str) -> list[str]:
    """What ``--format`` accepts, for shell completion."""
    return [name for name in FORMATS if name.startswith(incomplete)]


def read_text(text: Optional[str], text_file: Optional[str]) -> str:
    """Text from the argument, -f FILE, or stdin, cleaned and refused if empty."""
    from voiceclone_cli.prepare.text import read_text_file, read_text_stream, require_text

    if text is not None and text_file is not None and text != "-":
        raise UsageError("give the text as an argument or with -f, not both")
    if text_file is not None and text_file != "-":
        return require_text(read_text_file(Path(text_file)), f"text file {text_file}")
    if text_file == "-" or text == "-" or (text is None and not stdin_is_terminal()):
        return require_text(read_text_stream(binary_stdin()), "text from stdin")
    if text is None:
        raise UsageError(
            "no text to speak",
            hint='give it as an argument: voiceclone say -s me.wav "Hello there"',
        )
    return require_text(text, "the text argument")


def say(
    text: Annotated[Optional[str], typer.Argument(metavar="TEXT", help="Text to speak; '-' reads stdin.", show_default=False)] = None,
    sample: Annotated[Optional[Path], typer.Option("--sample", "-s", metavar="PATH", readable=False, help=SAMPLE_HELP, show_default=False)] = None,
    text_file: Annotated[Optional[str], typer.Option("--text-file", "-f", metavar="PATH", help="Read the text from a file ('-' for stdin).", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH", help="File to write (.wav .flac .ogg .mp3), or '-' for WAV on stdout. Default: stdout when piped, else voiceclone-DATE-TIME.wav.", show_default=False)] = None,
    speed: Annotated[float, typer.Option(**options.SPEED_LIMITS, help=SPEED_HELP)] = 1.0,
    pitch: Annotated[float, typer.Option(**options.PITCH_LIMITS, help=PITCH_HELP)] = 0.0,
    strict_sample: options.StrictSample = False,
    retries: options.Retries = None,
    timeout: options.Timeout = None,
    endpoint: options.Endpoint = None,
    api_key: options.ApiKey = None,
    voice: options.VoiceName = None,
    engine_name: options.EngineName = None,
    local: options.Local = False,
    no_cache: options.NoCache = False,
    dry_run: options.DryRun = False,
    play: Annotated[bool, typer.Option("--play", help="Play through the default audio device as it is made (with -o: play and save).")] = False,
    format_name: Annotated[Optional[str], typer.Option("--format", metavar="|".join(FORMATS), autocompletion=format_names, help="Output format. Default: from the -o extension, else wav.", show_default=False)] = None,
    sample_rate: Annotated[Optional[int], typer.Option("--sample-rate", metavar="HZ", min=8000, max=192000, help="Resample the output to this rate (Hz).", show_default=False)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Headerless 16-bit mono PCM on stdout; the rate is printed on stderr.")] = False,
    prefetch: Annotated[int, typer.Option(metavar="N", min=1, max=8, help="Chunks made ahead while the current one is written or played.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary on stdout (with -o FILE).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    lexicon: options.LexiconFile = None,
    no_markup: options.NoMarkup = False,
    srt: options.SrtFile = None,
    vtt: options.VttFile = None,
    debug: options.Debug = False,
) -> None:
    """Speak TEXT in the voice of a sample: to a file, to stdout, or out loud."""
    from voiceclone_cli.commands.progress import ProgressBar
    from voiceclone_cli.output.plan import NamedInput, plan_output
    from voiceclone_cli.prepare.voice import load_voice_sample
    from voiceclone_cli.speech import speak

    setup_logging(quiet=quiet, debug=debug)
    if (sample is None) == (voice is None):
        raise UsageError("missing --sample PATH (or --voice NAME)" if sample is None
                         else "give --sample or --voice, not both",
                         hint='voiceclone say --sample me.wav "Hello there" (saved voices: voiceclone voices list)')
    content = read_text(text, text_file)
    text_rules = options.load_lexicon(lexicon)
    inputs = [NamedInput(sample, "the voice sample")] if sample is not None else []
    if text_file not in (None, "-"):
        inputs.append(NamedInput(Path(text_file), "the text file"))
    if lexicon is not None:
        inputs.append(NamedInput(lexicon, "the lexicon"))
    options.check_subtitles(srt, vtt, inputs + ([NamedInput(Path(output), "the output")] if output not in (None, "-") else []))
    engine = open_engine(engine=engine_name, local=local, no_cache=no_cache, quiet=quiet, dry_run=dry_run,
                         flags={"api-key": api_key, "endpoint": endpoint, "retries": retries, "timeout": timeout})
    try:
        plan = plan_output(
            output=output, format_name=format_name, raw=raw, play=play,
            as_json=as_json and not dry_run,  # a dry run's JSON is its report: stdout carries no audio
            stdout=binary_stdout(), stdout_is_terminal=stdout_is_terminal(),
            on_raw_open=lambda rate: info(f"raw PCM: s16le, {rate} Hz, 1 channel", quiet),
            inputs=inputs, sample_rate=sample_rate, text_chars=len(content), speed=speed,
        )
        try:
            prepared = load_voice_sample(sample=sample, voice=voice, strict=strict_sample)
            for note in prepared.notes:
                info(note, quiet)
            if dry_run:
                _dry_run(content, engine, prepared, plan, speed=speed, pitch=pitch, as_json=as_json, quiet=quiet,
                         use_markup=not no_markup, lexicon=text_rules)
                plan.sink.abort()  # a dry run writes nothing: give back a name reserved for the output
                return
            speaker = engine.prepare_voice(prepared)
        except BaseException:
            plan.sink.abort()  # e.g. a name reserved for the output: give it back
            raise
        with ProgressBar("speaking", "chunks", quiet=quiet, eta=False) as bar:
            result = speak(
                content, engine, speaker, plan.sink, speed=speed, pitch=pitch, prefetch=prefetch,
                rate=sample_rate, use_markup=not no_markup, lexicon=text_rules,
                on_progress=lambda done, total, seconds: bar.update(done, total, f"{seconds:.1f} s audio"),
            )
        if srt is not None or vtt is not None:
            from voiceclone_cli.output.subtitles import write_subtitles

            write_subtitles(result.cues, srt=srt, vtt=vtt)
    finally:
        engine.close()
    path = plan.path
    if path is not None:
        cached = f"; {result.cache_hits} of {result.chunks} chunks from the cache" if result.cache_hits else ""
        if plan.auto_named:  # the user has not seen this name yet: always tell it
            info(f"wrote {path} ({result.seconds:.1f} s{cached})")
        elif not as_json:
            info(f"wrote {path} ({result.seconds:.1f} s{cached})", quiet)
        if as_json:
            summary = {
                "path": str(path),
                "seconds": round(result.seconds, 3),
                "chunks": result.chunks,
                "requests": result.requests,
                "retries": result.retries,
                "cache_hits": result.cache_hits,
                "sample_rate": result.rate,
                "engine": engine.name,
            }
            emit(json.dumps(summary))


def _dry_run(content, engine, prepared, plan, *, speed, pitch, as_json, quiet, use_markup, lexicon) -> None:
    """Everything a real run checks, then what it would cost; nothing is sent or written.

    The sample is checked as for a real run; the engine's own voice preparation (the local
    engine's analysis) is not run, since it takes seconds and writes a voice profile.
    """
    from voiceclone_cli.commands import dry_run
    from voiceclone_cli.speech import plan_speech

    cost = plan_speech(content, engine, prepared, speed=speed, pitch=pitch, use_markup=use_markup, lexicon=lexicon)
    numbers = {"requests": cost.requests, "chunks": cost.chunks, "cached": cost.cached,
               "characters": cost.characters, "audio_seconds": cost.audio_seconds}
    target = str(plan.path) if plan.path is not None else "stdout" if plan.to_stdout else "playback"
    dry_run.report(
        {**dry_run.cost_fields(**numbers), "engine": engine.name, "output": target},
        [*dry_run.cost_rows(**numbers), ("engine", engine.name), ("output", target)],
        as_json=as_json, quiet=quiet,
    )
