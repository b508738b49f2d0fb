"""``voiceclone config``: read and change the user's config file."""

from __future__ import annotations

import json
import os
from typing import Annotated, Optional

import typer

from voiceclone_cli.commands.common import HELP_OPTIONS, binary_stdin, emit, info, load_settings, stdin_is_terminal, warn
from voiceclone_cli.commands.presentation import Command, Group
from voiceclone_cli.errors import UsageError
from voiceclone_cli.settings import SPECS, shown_raw

app = typer.Typer(
    help="Show and change settings (precedence: flag > environment > config file > default).",
    no_args_is_help=True,
    add_completion=False,  # completions are static files (completions/)
    context_settings=HELP_OPTIONS,
    cls=Group,
    epilog=(
        "[bold]Examples[/bold]\n\n"
        "  voiceclone config set api-key            (asks for the key, hidden)\n\n"
        "  voiceclone config set endpoint https://aivoiceclonefree.com\n\n"
        "  voiceclone config show"
    ),
)

KEY_HELP = f"One of: {', '.join(SPECS)}."


def _spec(key: str):
    if key not in SPECS:
        raise UsageError(f"unknown setting {key!r}", hint=f"valid keys: {', '.join(SPECS)}")
    return SPECS[key]


def _read_secret(key: str) -> str:
    if stdin_is_terminal():
        return typer.prompt(f"{key}", hide_input=True)
    line = binary_stdin().readline().decode("utf-8", "replace")
    return line.strip()


@app.command("set", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone config set timeout 300")
def set_(
    key: Annotated[str, typer.Argument(metavar="KEY", help=KEY_HELP, show_default=False)],
    value: Annotated[Optional[str], typer.Argument(metavar="VALUE", help="New value; for api-key leave it out to be asked (hidden) or pipe it on stdin.", show_default=False)] = None,
) -> None:
    """Save a setting in the config file (created 0600; the previous file kept as config.toml.bak)."""
    from voiceclone_cli.config_file import config_path, set_value
    from voiceclone_cli.redaction import register_secret
    from voiceclone_cli.settings import parse_value

    spec = _spec(key)
    if value is None:
        if not spec.secret:
            raise UsageError(f"missing value for {key}", hint=f"voiceclone config set {key} VALUE")
        value = _read_secret(key)
    elif spec.secret:
        warn("the key is now in your shell history; "
            "next time run 'voiceclone config set api-key' and type it at the prompt")
    register_secret(value if spec.secret else None)
    parsed = parse_value(key, value, f"the value for {key}")
    if spec.secret:
        register_secret(parsed)
    path = config_path()
    set_value(path, key, parsed)
    info(f"saved {key} = {spec.show(parsed)} in {path}")
    if os.environ.get(spec.env, "").strip():
        info(f"note: {spec.env} is set and takes precedence over the config file")


@app.command("get", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone config get endpoint")
def get(key: Annotated[str, typer.Argument(metavar="KEY", help=KEY_HELP, show_default=False)]) -> None:
    """Print the effective value of a setting (the API key redacted)."""
    _spec(key)
    settings = load_settings(strict=False)
    error = settings.error(key)
    if error is not None:
        raise error
    emit(settings.display(key))


@app.command("unset", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone config unset api-key")
def unset(key: Annotated[str, typer.Argument(metavar="KEY", help=KEY_HELP, show_default=False)]) -> None:
    """Remove a setting from the config file (the previous file kept as config.toml.bak)."""
    from voiceclone_cli.config_file import config_path, unset_value

    _spec(key)
    path = config_path()
    if unset_value(path, key):
        info(f"removed {key} from {path}")
    else:
        info(f"{key} is not set in {path}")


@app.command("show", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  voiceclone config show --json")
def show(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every setting with its effective value and where it comes from.

    An invalid value (say a bad VOICECLONE_RETRIES) is shown, marked, with the others; the
    command then fails (exit 3) so a script notices.
    """
    settings = load_settings(strict=False)
    rows = [(name, settings.display(name), settings.values[name]) for name in SPECS]
    if as_json:
        entries = {}
        for name, shown, value in rows:
            entries[name] = {"value": shown, "source": value.source, "origin": value.origin}
            if value.problem is not None:
                entries[name].update(value=shown_raw(name, value.raw), error=value.problem)
        emit(json.dumps({"config_file": str(settings.config.path), "settings": entries}))
    else:
        width = max(len(n) for n, _, _ in rows)
        vwidth = max(len(v) for _, v, _ in rows)
        emit(f"# config file: {settings.config.path}")
        for name, shown, value in rows:
            emit(f"{name:<{width}}  {shown:<{vwidth}}  ({value.origin})")
    invalid = settings.invalid()
    if invalid:
        error = settings.error(invalid[0])
        if len(invalid) > 1:
            error.message += f" (and {len(invalid) - 1} more invalid setting(s), marked above)"
        raise error


@app.command("path", cls=Command, context_settings=HELP_OPTIONS, epilog="[bold]Example[/bold]\n\n  $EDITOR \"$(voiceclone config path)\"")
def path() -> None:
    """Print the config file's path (it may not exist yet)."""
    from voiceclone_cli.config_file import config_path

    emit(str(config_path()))
