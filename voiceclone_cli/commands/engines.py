"""``voiceclone engines`` and ``voiceclone cache``: what can speak, and the profile cache."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from voiceclone_cli.commands.common import HELP_OPTIONS, PROG, err
from voiceclone_cli.commands.presentation import Command, Group


def engines(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List the speech engines, whether each is installed, and how to install it."""
    from voiceclone_cli.engines.registry import engines as list_engines

    found = list_engines()
    if as_json:
        print(json.dumps([
            {"name": e.name, "installed": e.installed, "description": e.description,
             "missing": list(e.missing), "install": e.install_hint or None}
            for e in found
        ]))
        return
    for e in found:
        state = "installed" if e.installed else f"not installed — {e.install_hint}"
        print(f"{e.name:<8} {state}")
        print(f"{'':<8} {e.description}")


cache_app = typer.Typer(
    help="The voice-profile cache used by --local.",
    no_args_is_help=True,
    add_completion=False,  # completions are static files (completions/)
    context_settings=HELP_OPTIONS,
    cls=Group,
    epilog="[bold]Examples[/bold]\n\n  voiceclone cache path\n\n  voiceclone cache clear",
)


@cache_app.command("clear", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone cache clear")
def clear() -> None:
    """Delete the cached voice profiles and the prepared voice model (rebuilt on demand)."""
    from voiceclone_cli.profile_cache import ProfileCache, clear_models

    cache = ProfileCache()
    profiles = cache.clear()
    models = clear_models()
    err(f"{PROG}: removed {profiles.files} cached voice profile(s) and {models.files} prepared model(s), "
        f"{(profiles.bytes + models.bytes) / 1e6:.1f} MB, from {cache.directory.parent}")


@cache_app.command("path", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  du -sh \"$(voiceclone cache path)\"")
def path() -> None:
    """Print the cache directory (voice profiles and the prepared model)."""
    from voiceclone_cli.profile_cache import ProfileCache

    print(ProfileCache().directory.parent)
