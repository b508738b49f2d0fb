"""``voiceclone batch``: parse options, call ``batch.runner.run_batch``, show progress and results."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from voiceclone_cli.commands.common import (
    binary_stdin,
    emit,
    open_engine,
    setup_logging,
)
from voiceclone_cli.commands.say import PITCH_HELP, SPEED_HELP
from voiceclone_cli.commands import options
from voiceclone_cli.errors import UsageError
from voiceclone_cli.limits import SAMPLE_HELP

if TYPE_CHECKING:
    from voiceclone_cli.batch.results import BatchCounts, BatchSummary, LineOutcome

EXAMPLES = """\
[bold]Examples[/bold]

  voiceclone batch script.txt --sample me.wav -d out/

  voiceclone batch dialogue.jsonl -s narrator.wav -d out/ -j 4 --join all.wav --srt all.srt

  voiceclone batch chapters.txt -s me.wav -d book/ --name-template '{n}-{slug}'

  voiceclone batch out/failed.jsonl -s me.wav -d out/   (retry what failed)

  generate-lines | voiceclone batch - --local -s me.wav -d out/
"""

DEFAULT_GAP_SECONDS = 0.5
FAILURES_SHOWN = 20  # the rest are in failed.jsonl and --json


class InputFormat(str, Enum):
    auto = "auto"
    text = "text"
    jsonl = "jsonl"
    script = "script"


def batch(
    input_file: Annotated[str, typer.Argument(metavar="INPUT", help="Text file (one utterance a line; blank and # lines skipped), .jsonl file, or '-' for stdin.", show_default=False)],
    outdir: Annotated[Path, typer.Option("--outdir", "-d", metavar="DIR", help="Folder for the WAV files (created if missing), the manifest and failed.jsonl.", show_default=False)],
    sample: Annotated[Optional[Path], typer.Option("--sample", "-s", metavar="PATH", readable=False, help=SAMPLE_HELP + " Optional only if every JSONL line names its own.", show_default=False)] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=1, max=32, help="Lines in flight at once (capped at what the engine can run).")] = 2,
    name_template: Annotated[Optional[str], typer.Option("--name-template", metavar="TEMPLATE", help="Output names from {n} (item number), {line} (line number; both zero-padded) and {slug} (the text's first words). \\[default: {line}]", show_default=False)] = None,
    input_format: Annotated[InputFormat, typer.Option("--input-format", metavar="|".join(f.value for f in InputFormat), help="How to read INPUT. auto: .jsonl is JSONL, .txt is text, otherwise JSONL if the first line starts with {; with --cast, a dialogue script. script: 'NAME: text' lines.", case_sensitive=False)] = InputFormat.auto,
    cast: Annotated[Optional[list[str]], typer.Option("--cast", metavar="NAME=VOICE", help="In a dialogue script, who speaks in which voice: a saved voice or a sample file (repeat for each speaker). Speakers without one use the saved voice of their name.", show_default=False)] = None,
    join: Annotated[Optional[Path], typer.Option("--join", metavar="FILE", help="Also write every line, in order, into this one WAV.", show_default=False)] = None,
    gap: Annotated[Optional[float], typer.Option("--gap", metavar="SECONDS", **options.number_between(0.0, 60.0), help="Silence between lines in the --join file, seconds. \\[default: 0.5]", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo every line, even those already done.")] = False,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Stop at the first failed line (exit with its code).")] = False,
    speed: Annotated[float, typer.Option(**options.SPEED_LIMITS, help=SPEED_HELP + " JSONL lines may override it.")] = 1.0,
    pitch: Annotated[float, typer.Option(**options.PITCH_LIMITS, help=PITCH_HELP + " JSONL lines may override it.")] = 0.0,
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
    as_json: Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr: no progress bar, no summary table.")] = False,
    lexicon: options.LexiconFile = None,
    no_markup: options.NoMarkup = False,
    srt: options.SrtFile = None,
    vtt: options.VttFile = None,
    debug: options.Debug = False,
) -> None:
    """Speak every line of a text or JSONL file into its own WAV; re-runs resume where they stopped."""
    from voiceclone_cli.batch.inputs import BatchInput
    from voiceclone_cli.batch.runner import BatchOptions, run_batch
    from voiceclone_cli.commands.options import load_lexicon  # the module name is taken below

    setup_logging(quiet=quiet, debug=debug)
    if gap is not None and join is None:
        raise UsageError("--gap only applies with --join", hint="add --join all.wav, or drop --gap")
    if join is None and (srt is not None or vtt is not None):
        raise UsageError("subtitles follow the --join file", hint="add --join all.wav, or drop --srt/--vtt")
    fmt = input_format.value
    cast_map = parse_cast(cast or [])
    if cast_map and fmt == "auto" and not input_file.lower().endswith((".jsonl", ".ndjson")):
        fmt = "script"  # --cast means a dialogue script, unless INPUT says it is JSONL
    if input_file == "-":
        source = BatchInput.from_stream(binary_stdin(), fmt)
    else:
        source = BatchInput.from_path(Path(input_file), fmt)
    _check_subtitles(srt, vtt, input_file, sample, join, lexicon)
    options = BatchOptions(
        outdir=outdir, sample=sample, voice=voice, cast=cast_map, speed=speed, pitch=pitch, strict_sample=strict_sample,
        jobs=jobs, name_template=name_template, force=force, fail_fast=fail_fast, join=join,
        gap_seconds=DEFAULT_GAP_SECONDS if gap is None else gap,
        use_markup=not no_markup, lexicon=load_lexicon(lexicon), srt=srt, vtt=vtt,
    )
    engine = open_engine(engine=engine_name, local=local, no_cache=no_cache, quiet=quiet, dry_run=dry_run,
                         max_workers=jobs,
                         flags={"api-key": api_key, "endpoint": endpoint, "retries": retries, "timeout": timeout})
    if dry_run:
        try:
            _dry_run(source, engine, options, as_json=as_json, quiet=quiet)
        finally:
            engine.close()
        return
    try:
        with _Progress(quiet=quiet) as progress:
            summary = run_batch(source, engine, options, on_start=progress.start, on_line=progress.line)
    finally:
        engine.close()
    if not quiet:
        _print_summary(summary)
    if as_json:
        emit(json.dumps(summary.to_dict()))
    if summary.error is not None:
        raise summary.error


def _check_subtitles(srt: Path | None, vtt: Path | None, input_file: str, sample: Path | None,
                     join: Path | None, lexicon: Path | None) -> None:
    from voiceclone_cli.commands.options import check_subtitles
    from voiceclone_cli.output.plan import NamedInput

    named = [(Path(input_file) if input_file != "-" else None, "the batch input"), (sample, "the voice sample"),
             (join, "the --join file"), (lexicon, "the lexicon")]
    check_subtitles(srt, vtt, [NamedInput(path, role) for path, role in named if path is not None])


def _dry_run(source, engine, options, *, as_json: bool, quiet: bool) -> None:
    from voiceclone_cli.batch.runner import plan_batch
    from voiceclone_cli.commands import dry_run

    plan = plan_batch(source, engine, options)
    numbers = {"requests": plan.requests, "chunks": plan.chunks, "cached": plan.cached,
               "characters": plan.characters, "audio_seconds": plan.audio_seconds}
    invalid = [{"line": f.line, "output": f.output, "reason": f.reason, "exit_code": f.exit_code}
               for f in plan.invalid]
    rows = [("lines", "?" if plan.total is None else str(plan.total)),
            ("to do", str(plan.to_do)),
            ("already done", f"{plan.skipped} (skipped: no request)"),
            ("invalid", f"{len(invalid)}" + (" (would fail before any request)" if invalid else "")),
            *dry_run.cost_rows(**numbers),
            ("engine", engine.name)]
    for speaker, (lines, characters) in plan.speakers.items():
        rows.append((f"  {speaker}", f"{lines} line{'s' * (lines != 1)}, {characters:,} characters"))
    rows += [(f"  line {f['line']}", f"{f['output'] or ''}: {f['reason']}") for f in invalid[:FAILURES_SHOWN]]
    if len(invalid) > FAILURES_SHOWN:
        rows.append(("  …", f"and {len(invalid) - FAILURES_SHOWN} more (see --json)"))
    dry_run.report(
        {"lines": plan.total, "to_do": plan.to_do, "skipped": plan.skipped, "invalid": len(invalid),
         **dry_run.cost_fields(**numbers), "engine": engine.name, "outdir": str(options.outdir),
         "invalid_lines": invalid,
         "speakers": {name: {"lines": lines, "characters": chars} for name, (lines, chars) in plan.speakers.items()}},
        rows, as_json=as_json, quiet=quiet,
    )


def parse_cast(values: list[str]) -> dict:
    """``--cast NAME=VOICE`` entries: VOICE is a sample file if one is there (or it looks like a
    path), else a saved voice's name. Keys are case-folded, as speakers are matched."""
    from voiceclone_cli.batch.voices import SavedVoice
    from voiceclone_cli.voices.names import validate_name

    cast: dict = {}
    for value in values:
        name, sep, voice = value.partition("=")
        name, voice = name.strip(), voice.strip()
        if not sep or not name or not voice:
            raise UsageError(f"--cast {value!r} is not NAME=VOICE", hint="e.g. --cast ana=ana.wav --cast bob=bob")
        key = name.casefold()
        if key in cast:
            raise UsageError(f"--cast gives {name} twice", hint="one --cast per speaker")
        path = Path(voice).expanduser()
        if path.exists() or "/" in voice or path.suffix.lower() in (".wav", ".mp3", ".m4a"):
            cast[key] = path
        else:
            cast[key] = SavedVoice(validate_name(voice))
    return cast


class _Progress:
    """Lines settled of the lines to do, failures, audio made, ETA — on the shared bar.

    Lines skipped as already done leave the total instead of filling the bar, so the ETA is
    based on real work only.
    """

    def __init__(self, *, quiet: bool) -> None:
        from voiceclone_cli.commands.progress import ProgressBar

        self.bar = ProgressBar("batch", "lines", quiet=quiet)

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def start(self, counts: BatchCounts) -> None:
        self.bar.update(0, counts.total)

    def line(self, outcome: LineOutcome, counts: BatchCounts) -> None:
        notes = [f"{counts.audio_seconds:.0f} s audio"]
        if counts.failed:
            notes.append(f"[red]{counts.failed} failed[/red]")
        if counts.skipped:
            notes.append(f"{counts.skipped} already done")
        total = None if counts.total is None else counts.total - counts.skipped
        self.bar.update(counts.done + counts.failed, total, " · ".join(notes))

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


def _print_summary(summary: BatchSummary) -> None:
    """The summary table (and the failed lines) on stderr; stdout is kept for --json."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(stderr=True, highlight=False)
    c = summary.counts
    table = Table(title=f"batch {summary.status}", title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    if c.total is not None:
        table.add_row("lines", str(c.total), "")
    table.add_row("done", str(c.done), f"{c.audio_seconds:.1f} s of audio")
    if c.skipped:
        table.add_row("already done", str(c.skipped), "skipped (--force redoes them)")
    table.add_row("failed", str(c.failed), Text(str(summary.failed_file or "")), style="red" if c.failed else None)
    if c.total is not None and c.total > c.settled:
        table.add_row("not attempted", str(c.total - c.settled), "run the same command again to resume")
    table.add_row("requests", str(summary.requests), f"{summary.retries} retries")
    if summary.cache_hits:
        table.add_row("cached", str(summary.cache_hits), "chunks answered from the response cache")
    table.add_row("time", f"{summary.elapsed_seconds:.1f} s", f"{summary.engine} engine, {summary.jobs} jobs")
    if summary.join_file is not None:
        table.add_row("joined", f"{summary.join_seconds:.1f} s", Text(str(summary.join_file)))
    elif summary.join_skipped:
        table.add_row("joined", "no", Text(summary.join_skipped))
    console.print(table)
    if summary.failures:
        failed = Table("line", "output", "reason", title="failed lines", title_justify="left", box=None)
        for failure in summary.failures[:FAILURES_SHOWN]:
            failed.add_row(str(failure.line), Text(failure.output or ""), Text(failure.reason))
        console.print(failed)
        hidden = len(summary.failures) - FAILURES_SHOWN
        if hidden > 0:
            console.print(Text(f"… and {hidden} more in {summary.failed_file}"))
