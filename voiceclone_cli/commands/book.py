"""``voiceclone book``: a whole book (EPUB, Markdown, text, HTML) into one chaptered file or one
file per chapter, resumable, at one even loudness; the work itself is ``book.job.run_book``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from voiceclone_cli.commands import options
from voiceclone_cli.commands.common import emit, info, open_engine, setup_logging
from voiceclone_cli.commands.say import PITCH_HELP, SPEED_HELP
from voiceclone_cli.errors import UsageError
from voiceclone_cli.limits import SAMPLE_HELP

EXAMPLES = """\
[bold]Examples[/bold]

  voiceclone book novel.epub --list

  voiceclone book novel.epub -s me.wav -o novel.m4b -j 4

  voiceclone book notes.md -s me.wav -d chapters/ --chapters 1-3,7

  voiceclone book novel.epub -s me.wav -o novel.mp3 --srt novel.srt --loudness -16
"""

BOOK_FORMATS = ("m4b", "mp3", "wav", "flac", "ogg")
DEFAULT_DIR_FORMAT = "mp3"
# --dry-run's time estimate: seconds one request takes (a guess; the service's real pace is
# only known once it answers, which a dry run never asks).
REQUEST_SECONDS_GUESS = 6.0


def read_book(path: Path):
    """The book at ``path`` (``book.sources``: EPUB, Markdown, text, HTML; anything else exit 3)."""
    from voiceclone_cli.book.sources import read_book as read

    return read(path)


def parse_chapter_numbers(spec: str) -> set[int]:
    """``1-3,7`` -> {1, 2, 3, 7}; anything else is a usage error naming the bad part."""
    numbers: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))) or int(match.group(1)) < 1:
            raise UsageError(f"--chapters: {part.strip()!r} is not a chapter number or range",
                             hint="give numbers and ranges from --list, e.g. --chapters 1-3,7")
        first = int(match.group(1))
        numbers.update(range(first, int(match.group(2) or first) + 1))
    return numbers


def _format_for(output: Optional[Path], outdir: Optional[Path], format_name: Optional[str]) -> str:
    name = (format_name or (output.suffix.lstrip(".") if output is not None else DEFAULT_DIR_FORMAT)).lower()
    name = {"wave": "wav", "oga": "ogg", "m4a": "m4b"}.get(name, name)
    if name not in BOOK_FORMATS:
        raise UsageError(f"cannot write a book as {name or 'a file without an extension'}",
                         hint="use .m4b, .mp3, .wav, .flac or .ogg (or --format)")
    if outdir is not None and name == "m4b":
        raise UsageError("-d writes one file per chapter: m4b is for one chaptered file",
                         hint="use -o book.m4b, or --format mp3 with -d")
    return name


def _loudness(value: str) -> float | None:
    if value.strip().lower() == "off":
        return None
    try:
        target = float(value)
    except ValueError:
        raise UsageError(f"--loudness {value!r} is not a number", hint="give LUFS, e.g. --loudness -18, or 'off'") from None
    if not -40.0 <= target <= -5.0:
        raise UsageError(f"--loudness {value} is outside -40 to -5 LUFS", hint="audiobooks use -18 to -16")
    return target


def _engine_and_voice(engine_name, local, no_cache, flags, quiet, *, jobs, sample, voice, strict, dry_run):
    """The engine and the voice it speaks in: the one place a book run creates them."""
    from voiceclone_cli.prepare.voice import load_voice_sample

    prepared = load_voice_sample(sample=sample, voice=voice, strict=strict)
    for note in prepared.notes:
        info(note, quiet)
    engine = open_engine(engine=engine_name, local=local, no_cache=no_cache, flags=flags, quiet=quiet,
                         max_workers=jobs, dry_run=dry_run)
    try:
        # A dry run checks the sample without the engine's own preparation (the local analysis).
        return engine, prepared if dry_run else engine.prepare_voice(prepared)
    except BaseException:
        engine.close()
        raise


def book(
    input_file: Annotated[Path, typer.Argument(metavar="INPUT", help="The book: .epub, .md/.markdown, .txt, .html/.xhtml.", show_default=False)],
    sample: Annotated[Optional[Path], typer.Option("--sample", "-s", metavar="PATH", readable=False, help=SAMPLE_HELP, show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="One file: .m4b (AAC with chapter marks), .mp3 (ID3 chapters), .wav, .flac or .ogg.", show_default=False)] = None,
    outdir: Annotated[Optional[Path], typer.Option("--outdir", "-d", metavar="DIR", help="One file per chapter (01-title.mp3 ...) plus chapters.json.", show_default=False)] = None,
    format_name: Annotated[Optional[str], typer.Option("--format", metavar="|".join(BOOK_FORMATS), help="Output format. Default: from the -o extension; mp3 with -d.", show_default=False)] = None,
    chapters: Annotated[Optional[str], typer.Option("--chapters", metavar="LIST", help="Only these chapters, by the numbers --list shows: 1-3,7.", show_default=False)] = None,
    all_sections: Annotated[bool, typer.Option("--all-sections", help="Also speak the cover, title page, copyright, contents, index and bibliography.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Print the chapters (number, title, characters, minutes) and exit; no request.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=1, max=32, help="Requests in flight at once (capped at what the engine can run).")] = 2,
    title_pause: Annotated[float, typer.Option("--title-pause", metavar="SECONDS", **options.number_between(0.0, 10.0), help="Silence after each chapter's title.")] = 1.5,
    loudness: Annotated[str, typer.Option("--loudness", metavar="LUFS|off", help="Integrated loudness of the whole book (one gain, true peak at most -1 dBTP).")] = "-18",
    lexicon: options.LexiconFile = None,
    no_markup: options.NoMarkup = False,
    srt: options.SrtFile = None,
    vtt: options.VttFile = None,
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
    as_json: Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary (or the --list rows) on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    debug: options.Debug = False,
) -> None:
    """Read a whole book in the voice of a sample: one chaptered file or one file per chapter."""
    from voiceclone_cli.book.job import BookOptions, plan_book, run_book
    from voiceclone_cli.output.plan import NamedInput, inspect_output

    setup_logging(quiet=quiet, debug=debug)
    numbers = parse_chapter_numbers(chapters) if chapters is not None else None
    target_loudness = _loudness(loudness)
    if not list_only:
        if (output is None) == (outdir is None):
            raise UsageError("give either -o FILE (one file) or -d DIR (one file per chapter)",
                             hint="voiceclone book novel.epub -s me.wav -o novel.m4b")
        if (sample is None) == (voice is None):
            raise UsageError("missing --sample PATH (or --voice NAME)" if sample is None else "give --sample or --voice, not both",
                             hint="voiceclone book novel.epub -s me.wav -o novel.m4b")
        if outdir is not None and (srt is not None or vtt is not None):
            raise UsageError("--srt/--vtt follow one audio file", hint="use -o FILE with subtitles")
    fmt = _format_for(output, outdir, format_name) if not list_only else None
    text_rules = options.load_lexicon(lexicon)
    the_book = read_book(input_file)
    selected = the_book.selected(all_sections=all_sections or numbers is not None, numbers=numbers)
    if numbers is not None:
        missing = sorted(numbers - {c.number for c in the_book.chapters})
        if missing:
            raise UsageError(f"--chapters: the book has no chapter {', '.join(map(str, missing))}",
                             hint=f"its chapters are 1-{len(the_book.chapters)} (see --list)")
    if list_only:
        _print_list(the_book, selected, speed, as_json=as_json)
        return
    if not selected:
        raise UsageError("no chapter to speak", hint="see --list; --all-sections keeps front and back matter")
    inputs = [NamedInput(input_file, "the book")] + ([NamedInput(sample, "the voice sample")] if sample else [])
    if lexicon is not None:
        inputs.append(NamedInput(lexicon, "the lexicon"))
    if output is not None:
        target = inspect_output(output, inputs=inputs)
        if target.stream:
            raise UsageError(f"-o {output} is not a regular file: a book is written as a whole file",
                             hint="give a file name, e.g. -o book.m4b")
        output = target.path
        inputs.append(NamedInput(output, "the book file"))
    else:
        _check_outdir(outdir, create=not dry_run)
    options.check_subtitles(srt, vtt, inputs)
    run_options = BookOptions(
        output=output, outdir=outdir, format_name=fmt, speed=speed, pitch=pitch, jobs=jobs,
        title_pause=title_pause, loudness=target_loudness, use_markup=not no_markup,
        lexicon=text_rules, srt=srt, vtt=vtt,
    )
    engine, speaker = _engine_and_voice(
        engine_name, local, no_cache, {"api-key": api_key, "endpoint": endpoint, "retries": retries, "timeout": timeout},
        quiet, jobs=jobs, sample=sample, voice=voice, strict=strict_sample, dry_run=dry_run)
    try:
        if dry_run:
            _dry_run(plan_book(selected, engine, speaker, run_options), engine, jobs, as_json=as_json, quiet=quiet)
            return
        summary = run_book(the_book, selected, engine, speaker, run_options, on_progress=_Progress(quiet))
    finally:
        engine.close()
    if not quiet and not as_json:
        _print_summary(summary, engine.name, target_loudness)
    if as_json:
        emit(json.dumps({**summary.to_dict(), "engine": engine.name, "jobs": jobs}))


def _check_outdir(outdir: Path, *, create: bool) -> None:
    """A dry run only looks: it leaves no folder behind."""
    from voiceclone_cli.errors import OutputError

    if not create:
        if outdir.exists() and not outdir.is_dir():
            raise OutputError(f"-d {outdir} is not a directory", hint="give a folder name")
        return
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"-d {outdir} is not a directory", hint="give a folder name") from None
    except OSError as exc:
        raise OutputError(f"cannot create -d {outdir}: {exc.strerror}") from None


def _print_list(the_book, selected, speed: float, *, as_json: bool) -> None:
    """The chapters with the numbers --chapters takes; those a run would skip are marked."""
    from voiceclone_cli.book.listing import listing_rows

    chosen = {c.number for c in selected}
    rows = [{"number": r.number, "title": r.title, "characters": r.characters, "minutes": round(r.minutes, 1),
             "kind": r.kind, "selected": r.number in chosen} for r in listing_rows(the_book, speed=speed)]
    if as_json:
        emit(json.dumps({"title": the_book.title, "author": the_book.author, "chapters": rows}, ensure_ascii=False))
        return
    width = max((len(r["title"]) for r in rows), default=5)
    emit(f"{the_book.title}" + (f" — {the_book.author}" if the_book.author else ""))
    emit(f"{'#':>3}  {'title':<{width}}  {'characters':>10}  {'minutes':>7}")
    for r in rows:
        note = "" if r["selected"] else f"  (skipped: {r['kind']})" if r["kind"] != "chapter" else "  (not chosen)"
        emit(f"{r['number']:>3}  {r['title']:<{width}}  {r['characters']:>10,}  {r['minutes']:>7.1f}{note}")
    total = [r for r in rows if r["selected"]]
    emit(f"{len(total)} of {len(rows)} sections, {sum(r['characters'] for r in total):,} characters, "
         f"about {sum(r['minutes'] for r in total):.0f} min (at 15 characters a second)")


def _dry_run(plan, engine, jobs: int, *, as_json: bool, quiet: bool) -> None:
    from voiceclone_cli.commands import dry_run

    workers = max(1, min(jobs, engine.max_workers))
    seconds = plan.requests * REQUEST_SECONDS_GUESS / workers
    numbers = {"requests": plan.requests, "chunks": plan.chunks, "cached": plan.cached,
               "characters": plan.characters, "audio_seconds": plan.audio_seconds}
    rows = [("chapters", f"{plan.chapters}" + (f" ({plan.resumed} already made: no request)" if plan.resumed else "")),
            *dry_run.cost_rows(**numbers),
            ("time", f"about {seconds / 60:.0f} min at -j {workers} (at a guessed {REQUEST_SECONDS_GUESS:.0f} s a request)"),
            ("engine", engine.name)]
    dry_run.report({**dry_run.cost_fields(**numbers), "chapters": plan.chapters, "resumed_chapters": plan.resumed,
                    "time_minutes_estimate": round(seconds / 60, 1), "jobs": workers, "engine": engine.name},
                   rows, as_json=as_json, quiet=quiet)


class _Progress:
    """One line on stderr as each chapter's audio grows: chapter i/n, audio made, time left."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._shown: tuple[int, int] | None = None

    def __call__(self, progress) -> None:
        minute = int(progress.audio_seconds // 60)
        if self.quiet or (progress.chapter, minute) == self._shown:
            return
        self._shown = (progress.chapter, minute)
        eta = "" if progress.eta_seconds is None else f", about {_duration(progress.eta_seconds)} left"
        info(f"chapter {progress.chapter}/{progress.chapters}: {progress.title} "
             f"({progress.audio_seconds / 60:.1f} min of audio made{eta})")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _print_summary(summary, engine_name: str, target: float | None) -> None:
    cached = f", {summary.cache_hits} chunks from the cache" if summary.cache_hits else ""
    resumed = f" ({summary.resumed} already made by an earlier run)" if summary.resumed else ""
    info(f"wrote {summary.output}: {len(summary.chapters)} chapters{resumed}, {summary.seconds / 60:.1f} min")
    info(f"  {summary.requests} requests, {summary.retries} retries{cached}; {engine_name} engine; "
         f"{summary.elapsed_seconds:.1f} s")
    if summary.loudness_lufs is not None:
        reached = summary.loudness_lufs + summary.gain_db
        held = (f"; it reaches {reached:.1f} LUFS, not {target:.0f}: held back by the -1 dBTP true-peak ceiling"
                if target is not None and reached < target - 0.5 else "")
        info(f"  loudness {summary.loudness_lufs:.1f} LUFS made, {summary.gain_db:+.1f} dB applied, "
             f"true peak {summary.true_peak_dbtp:.1f} dBTP{held}")
    for path in summary.subtitles:
        info(f"  subtitles: {path}")
