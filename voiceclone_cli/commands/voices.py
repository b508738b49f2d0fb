"""``voiceclone voices``: the voice library (clone a voice once, use it by name).

Nothing heavy is imported at module level: ``voices list --names`` runs on every Tab of shell
completion and must start as fast as ``voiceclone --help``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from voiceclone_cli.commands.presentation import Command, Group
from voiceclone_cli.limits import SAMPLE_HELP
from voiceclone_cli.commands.common import HELP_OPTIONS, emit, human_size, info, setup_logging

app = typer.Typer(
    cls=Group,
    help="Keep cloned voices by name: add a sample once, then list, play, export and import it.",
    no_args_is_help=True,
    add_completion=False,  # completions/ has static scripts; Typer's own options do not belong here
    context_settings=HELP_OPTIONS,
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  voiceclone voices add ana recordings/ana.wav --note 'studio mic'\n\n"
        "  voiceclone voices list\n\n"
        "  voiceclone voices export ana ana.vcvoice"
    ),
)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The voice's name (any letter case).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")]
NoProfileOpt = Annotated[bool, typer.Option(
    "--no-profile", help="Skip the local engine's voice analysis (it then runs on first --local use).")]


def _library():
    from voiceclone_cli.voices.library import VoiceLibrary

    return VoiceLibrary()


def _engines(voice) -> str:
    return ", ".join(voice.engines)


def _report_stored(stored, verb: str, as_json: bool, quiet: bool) -> None:
    for note in stored.notes:
        info(note, quiet)
    voice = stored.voice
    replaced = f", replacing {stored.replaced!r}" if stored.replaced else ""
    info(f"{verb} voice {voice.name!r} ({voice.seconds:.1f} s, ready for {_engines(voice)}){replaced}", quiet)
    if as_json:
        emit(json.dumps(voice.to_dict(), ensure_ascii=False))


@app.command("add", cls=Command, context_settings=HELP_OPTIONS, epilog=(
    "[bold]Examples[/bold]\n\n"
    "  voiceclone voices add ana recordings/ana.wav\n\n"
    "  voiceclone voices add Ana new-take.m4a --force --note 'second take'"))
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="1-40 letters, digits, '-', '_' or '.'.", show_default=False)],
    sample: Annotated[Path, typer.Argument(metavar="SAMPLE", help=SAMPLE_HELP, show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace a voice of that name.")] = False,
    strict_sample: Annotated[bool, typer.Option("--strict-sample", help="Refuse a sample that is too long or too large instead of fitting it.")] = False,
    note: Annotated[str, typer.Option("--note", metavar="TEXT", help="A note kept with the voice.")] = "",
    no_profile: NoProfileOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Check a sample as 'say' does and keep it under NAME (with the local engine's profile)."""
    setup_logging(quiet=quiet)
    stored = _library().add(name, sample, force=force, strict=strict_sample, note=note, profile=not no_profile)
    _report_stored(stored, "added", as_json, quiet)


@app.command("list", cls=Command, context_settings=HELP_OPTIONS, epilog=(
    "[bold]Examples[/bold]\n\n  voiceclone voices list\n\n  voiceclone voices list --json | jq -r '.[].name'"))
def list_(
    as_json: JsonOpt = False,
    names: Annotated[bool, typer.Option("--names", hidden=True, help="Names only, one a line (for shell completion).")] = False,
) -> None:
    """Every voice: its length, the engines it is ready for, its note; damaged ones marked."""
    if names:
        from voiceclone_cli.voices.library import voice_names

        for name in voice_names():
            emit(name)
        return
    from voiceclone_cli.voices.library import DamagedVoice

    entries = _library().list()
    if as_json:
        emit(json.dumps([_summary(e) for e in entries], ensure_ascii=False))
        return
    if not entries:
        info("no voices yet — add one with 'voiceclone voices add NAME SAMPLE'")
        return
    width = max(len("NAME"), *(len(e.name) for e in entries))
    column = max(14, *(len(_engines(e)) for e in entries if not isinstance(e, DamagedVoice)))
    emit(f"{'NAME':<{width}}  {'LENGTH':>7}  {'ENGINES':<{column}}  NOTE")
    for e in entries:
        if isinstance(e, DamagedVoice):
            emit(f"{e.name:<{width}}  {'-':>7}  {'DAMAGED':<{column}}  {e.reason}")
        else:
            emit(f"{e.name:<{width}}  {e.seconds:>6.1f}s  {_engines(e):<{column}}  {e.note}")


def _summary(entry) -> dict:
    full = entry.to_dict()
    return {key: full.get(key) for key in ("name", "seconds", "engines", "note", "damaged")}


@app.command("show", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone voices show ana")
def show(name: NameArg, as_json: JsonOpt = False) -> None:
    """Everything about a voice: source, length, format, date, hash, folder, files and engine states."""
    details = _library().get(name).to_dict()
    if as_json:
        emit(json.dumps(details, ensure_ascii=False))
        return
    details["seconds"] = f"{details['seconds']:.2f} s"
    details["engines"] = ", ".join(details["engines"])
    details["engine_states"] = "; ".join(
        f"{engine} {human_size(state['size'])} (for {state['identity']})"
        for engine, state in details["engine_states"].items()) or None
    del details["damaged"]
    width = max(len(key) for key in details)
    for key, value in details.items():
        emit(f"{key:<{width}}  {'' if value is None else value}")


@app.command("rm", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone voices rm ana old-take")
def rm(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="The voices to remove (all names are checked first).", show_default=False)],
    quiet: QuietOpt = False,
) -> None:
    """Remove voices (damaged ones too); if any name is unknown, nothing is removed."""
    for name in _library().remove(names):
        info(f"removed voice {name!r}", quiet)


@app.command("rename", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone voices rename ana Ana-studio")
def rename(
    old: Annotated[str, typer.Argument(metavar="OLD", help="The voice's current name.", show_default=False)],
    new: Annotated[str, typer.Argument(metavar="NEW", help="Its new name.", show_default=False)],
    quiet: QuietOpt = False,
) -> None:
    """Give a voice another name (or another letter case)."""
    library = _library()
    before = library.get(old).name
    after = library.rename(old, new).name
    info(f"renamed voice {before!r} to {after!r}", quiet)


@app.command("play", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone voices play ana")
def play(name: NameArg) -> None:
    """Play a voice's stored sample through the default audio device."""
    from voiceclone_cli.output.players import PlayerSink, find_player

    voice = _library().get(name)
    sink = PlayerSink(find_player())  # exit 9 at once without a device, before decoding
    sample = voice.prepared_sample()
    sink.open(sample.rate)
    try:
        sink.write(sample.samples)
    except BaseException:
        sink.abort()
        raise
    sink.close()


@app.command("export", cls=Command, context_settings=HELP_OPTIONS, epilog=(
    "[bold]Example[/bold]\n\n  voiceclone voices export ana ana.vcvoice   (then on another machine: voiceclone voices import ana.vcvoice)"))
def export(
    name: NameArg,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The file to write (a zip).", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Write a voice (sample, profile, engine states, details, hashes) to one portable file."""
    target = _library().export(name, file, force=force)
    info(f"exported voice {name!r} to {target}", quiet)


@app.command("import", cls=Command, context_settings=HELP_OPTIONS, epilog=(
    "[bold]Examples[/bold]\n\n  voiceclone voices import ana.vcvoice\n\n  voiceclone voices import ana.vcvoice --name ana2"))
def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A file written by 'voiceclone voices export'.", show_default=False)],
    name: Annotated[Optional[str], typer.Option("--name", metavar="NAME", help="Store it under another name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a voice of that name.")] = False,
    no_profile: NoProfileOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Add a voice from an exported file, after checking every file in it."""
    setup_logging(quiet=quiet)
    stored = _library().import_(file, name=name, force=force, profile=not no_profile)
    _report_stored(stored, "imported", as_json, quiet)
