"""``voiceclone engines`` and ``voiceclone cache``: what can speak, and the caches."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from voiceclone_cli.commands.common import HELP_OPTIONS, emit, human_size, info
from voiceclone_cli.commands.presentation import Command, Group


engines_app = typer.Typer(
    help="The speech engines: which can speak now, where each comes from, and what the others need.",
    add_completion=False,  # completions are static files (completions/)
    context_settings=HELP_OPTIONS,
    cls=Group,
    invoke_without_command=True,
    epilog="[bold]Examples[/bold]\n\n  voiceclone engines\n\n  voiceclone engines --json\n\n  voiceclone engines fetch pocket",
)


@engines_app.callback()
def engines(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every engine: where it comes from, whether it can speak now, and what fixes it if not."""
    if ctx.invoked_subcommand is not None:
        return
    from voiceclone_cli.commands.common import emit, load_settings
    from voiceclone_cli.engines.registry import list_engines

    found = list_engines(load_settings(strict=False))
    if as_json:
        emit(json.dumps([e.to_dict() for e in found]))
        return
    width = max(len(e.name) for e in found)
    for e in found:
        if e.broken:
            state = f"broken: {e.broken}"
        elif e.status.usable:
            state = "ready"
        else:
            state = f"needs {e.status.missing}" + (f" — run: {e.status.fix}" if e.status.fix else "")
        emit(f"{e.name:<{width}}  {state}")
        emit(f"{'':<{width}}  {e.description or '(no description)'} [{e.source}]")


@engines_app.command("fetch", cls=Command, context_settings=HELP_OPTIONS,
                     epilog="[bold]Example[/bold]\n\n  voiceclone engines fetch pocket")
def fetch(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The engine whose model to download.", show_default=False)],
    into: Annotated[Optional[Path], typer.Option("--to", metavar="DIR", help="Also copy the model into DIR: a self-contained folder to carry to a machine without the hub.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Download an engine's model ahead of time (for engines whose weights live on a model hub)."""
    from voiceclone_cli.commands.common import info, load_settings
    from voiceclone_cli.engines.registry import fetch_engine

    options = {"quiet": quiet} if into is None else {"quiet": quiet, "into": into}
    info(fetch_engine(name, load_settings(strict=False), **options))


cache_app = typer.Typer(
    help="The caches: engine answers (so no chunk is paid for twice), and --local's voice profiles and model.",
    no_args_is_help=True,
    add_completion=False,  # completions are static files (completions/)
    context_settings=HELP_OPTIONS,
    cls=Group,
    epilog="[bold]Examples[/bold]\n\n  voiceclone cache stats\n\n  voiceclone cache clear --responses\n\n  voiceclone cache path",
)


@cache_app.command("stats", cls=Command, context_settings=HELP_OPTIONS,
                   epilog="[bold]Examples[/bold]\n\n  voiceclone cache stats\n\n  voiceclone cache stats --json | jq .bytes")
def stats(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Entries and size of the response cache, its cap, and the hits and misses of recent runs."""
    from voiceclone_cli.engines.response_cache import ResponseCache

    cache = ResponseCache()
    found = cache.stats()
    if as_json:
        emit(json.dumps({"path": str(cache.directory), "entries": found.entries, "bytes": found.bytes,
                          "max_bytes": found.max_bytes, "runs": found.runs}))
        return
    cap = "off (VOICECLONE_CACHE_SIZE=0: nothing is stored)" if found.max_bytes <= 0 else human_size(found.max_bytes)
    emit(f"responses  {found.entries} entries, {human_size(found.bytes)} of {cap}")
    emit(f"path       {cache.directory}")
    if found.runs:
        hits = sum(run.get("hits", 0) for run in found.runs)
        misses = sum(run.get("misses", 0) for run in found.runs)
        emit(f"last {len(found.runs)} runs  {hits} chunks from the cache, {misses} requested")
        for run in found.runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.get("time", 0)))
            emit(f"  {when}  {run.get('engine', '?'):<7} {run.get('hits', 0):>5} cached  {run.get('misses', 0):>5} requested")


@cache_app.command("clear", cls=Command, context_settings=HELP_OPTIONS,
                   epilog="[bold]Examples[/bold]\n\n  voiceclone cache clear\n\n  voiceclone cache clear --responses\n\n  voiceclone cache clear --profiles")
def clear(
    responses: Annotated[bool, typer.Option("--responses", help="Only the cached engine answers.")] = False,
    profiles: Annotated[bool, typer.Option("--profiles", help="Only --local's voice profiles and prepared model.")] = False,
) -> None:
    """Empty the caches (everything, unless --responses or --profiles picks one); all is rebuilt on demand."""
    from voiceclone_cli.engines.local.profile_cache import ProfileCache, clear_models
    from voiceclone_cli.engines.response_cache import ResponseCache

    both = not responses and not profiles
    removed = []
    if responses or both:
        cache = ResponseCache(max_bytes=0)  # clearing must work even with a bad size setting
        answers = cache.clear()
        removed.append(f"{answers.files} cached response(s), {human_size(answers.bytes)}, from {cache.directory}")
    if profiles or both:
        from voiceclone_cli.dirs import empty_folder
        from voiceclone_cli.engines.pocket.voice_cache import voices_dir

        profile_cache = ProfileCache()
        voices = profile_cache.clear()
        models = clear_models()
        states = empty_folder(voices_dir())
        removed.append(f"{voices.files + states.files} cached voice profile(s) and {models.files} prepared model(s), "
                       f"{human_size(voices.bytes + models.bytes + states.bytes)}, from {profile_cache.directory.parent}")
    info("removed " + "; ".join(removed))


@cache_app.command("path", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  du -sh \"$(voiceclone cache path)\"")
def path() -> None:
    """Print the cache directory (responses, voice profiles and the prepared model)."""
    from voiceclone_cli.engines.local.profile_cache import ProfileCache

    emit(str(ProfileCache().directory.parent))

