"""The Typer app and the one place where failures become messages and exit codes.

Commands live in ``voiceclone_cli.commands``; they parse options and call the core. ``main``
runs the app and maps every outcome (core errors, usage errors, Ctrl-C, bugs) to one line on
stderr and a documented exit code. Tracebacks appear only with ``--debug``, scrubbed of secrets.
"""

from __future__ import annotations

import os
import sys
import traceback
import typer

from voiceclone_cli import __version__
from voiceclone_cli.commands import config as config_cmd
from voiceclone_cli.commands import engines as engines_cmd
from voiceclone_cli.commands.common import PROG, err
from voiceclone_cli.commands.say import EXAMPLES as SAY_EXAMPLES
from voiceclone_cli.commands.say import say
from voiceclone_cli.errors import ExitCode, VoicecloneError
from voiceclone_cli.redaction import scrub

app = typer.Typer(
    name=PROG,
    help="Clone a voice from a short sample and speak any text in it.",
    epilog=(
        "[bold]Examples[/bold]\n\n"
        '  voiceclone say --sample me.wav "Hello there" -o hello.wav\n\n'
        '  voiceclone say --local --sample me.wav "No account needed" -o local.wav\n\n'
        "  voiceclone config set api-key\n\n"
        "Run 'voiceclone COMMAND --help' for a command's options, 'voiceclone --version' for the version."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(epilog=SAY_EXAMPLES, no_args_is_help=False)(say)
app.add_typer(config_cmd.app, name="config")
app.command(epilog="[bold]Example[/bold]\n\n  voiceclone engines")(engines_cmd.engines)
app.add_typer(engines_cmd.cache_app, name="cache")


@app.callback()
def _root() -> None:
    """Clone a voice from a short sample and speak any text in it. (voiceclone --version prints the version.)"""


def _innermost_command(group, argv: list[str]):
    """Dispatch straight to the subcommand the leading words name.

    Parsing through the group would run the group's own option processing, which in Typer
    loads its coercion layer (pydantic) and costs ~60 ms on every ``voiceclone say --help``.
    """
    command, path = group, []
    while argv and argv[0] in (getattr(command, "commands", None) or {}):
        command = command.commands[argv[0]]
        path.append(argv[0])
        argv = argv[1:]
    return command, path, argv


def _click_exception_type() -> type[BaseException]:
    """Typer may vendor click; find its ClickException through a public Typer class."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException":
            return cls
    return Exception  # pragma: no cover


def _wants_debug(argv: list[str]) -> bool:
    args = argv[: argv.index("--")] if "--" in argv else argv
    return "--debug" in args or os.environ.get("VOICECLONE_DEBUG", "") not in ("", "0")


def report(message: str, hint: str = "") -> None:
    line = f"{PROG}: error: {message}"
    if hint:
        line += f" — {hint}"
    err(line)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (see ``errors.ExitCode``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):  # listed in the root help's epilog
        # Handled before Typer: a root-level option would make every subcommand's start-up
        # pay for Typer's option coercion machinery (pydantic), even for --help.
        print(f"{PROG} {__version__}")
        return 0
    debug = _wants_debug(argv)
    click_exception = _click_exception_type()
    path: list[str] = []
    try:
        command, path, rest = _innermost_command(typer.main.get_command(app), argv)
        result = command.main(args=rest, prog_name=" ".join([PROG, *path]), standalone_mode=False)
        if result == ExitCode.INTERRUPTED:  # Typer turns KeyboardInterrupt into this code
            report("interrupted")
        return int(result) if isinstance(result, int) else 0
    except VoicecloneError as exc:
        if debug:
            err(traceback.format_exc().rstrip())
        if exc.exit_code == ExitCode.INTERRUPTED:
            report("interrupted")
        else:
            report(exc.message, exc.hint)
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err("")
        report("aborted")
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        report("interrupted")
        return int(ExitCode.INTERRUPTED)
    except click_exception as exc:  # bad flags, missing arguments, out-of-range values
        message = exc.format_message()
        if message:  # an empty one follows help shown for a bare group: nothing to add
            report(message, f"see '{' '.join([PROG, *path, '--help'])}'")
        return int(ExitCode.USAGE)
    except BrokenPipeError:
        return int(ExitCode.OUTPUT)
    except Exception as exc:  # a bug: say so plainly, point at --debug
        if debug:
            err(traceback.format_exc().rstrip())
        report(f"internal error: {type(exc).__name__}: {scrub(str(exc))[:200]}",
               "run again with --debug and report it" if not debug else "please report it")
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
