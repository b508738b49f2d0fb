"""The Typer app and the one place where failures become messages and exit codes.

Commands live in ``voiceclone_cli.commands``; they parse options and call the core. ``main``
runs the app and maps every outcome (core errors, usage errors, Ctrl-C, bugs) to one line on
stderr and a documented exit code. Tracebacks appear only with ``--debug``, scrubbed of secrets.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import traceback
import typer

from voiceclone_cli import __version__, stopping
from voiceclone_cli.commands import common
from voiceclone_cli.commands.common import HELP_OPTIONS, PROG, err
from voiceclone_cli.commands.environment import Environment
from voiceclone_cli.commands.presentation import Command, Group
from voiceclone_cli.errors import ExitCode, VoicecloneError
from voiceclone_cli.redaction import scrub

# Top-level names -> where they live and their one-line help. A command's module is imported
# only when it runs (or for its own --help): the root listing is built from these lines, so
# ``voiceclone say --help`` never pays for the book, serve or config modules.
COMMANDS = {  # plain commands: module, function; the module's EXAMPLES is the help epilog
    "say": ("voiceclone_cli.commands.say", "say", "Speak TEXT in the voice of a sample: to a file, to stdout, or out loud."),
    "batch": ("voiceclone_cli.commands.batch", "batch", "Speak every line of a text or JSONL file into its own WAV; re-runs resume where they stopped."),
    "book": ("voiceclone_cli.commands.book", "book", "Read a whole book in the voice of a sample: one chaptered file or one file per chapter."),
    "serve": ("voiceclone_cli.commands.serve", "serve", "Serve the sync-clone API and an OpenAI-style speech API over HTTP."),
}
GROUPS = {  # command groups: module, Typer app
    "config": ("voiceclone_cli.commands.config", "app", "Show and change settings (precedence: flag > environment > config file > default)."),
    "engines": ("voiceclone_cli.commands.engines", "engines_app", "The speech engines: which can speak now, where each comes from, and what the others need."),
    "cache": ("voiceclone_cli.commands.engines", "cache_app", "The caches: engine answers (so no chunk is paid for twice), and the engines' voice profiles and models."),
    "voices": ("voiceclone_cli.commands.voices", "app", "Keep cloned voices by name: add a sample once, then list, play, export and import it."),
}
ROOT_HELP = "Clone a voice from a short sample and speak any text in it."
ROOT_EPILOG = (
    "[bold]Examples[/bold]\n\n"
    '  voiceclone say --sample me.wav "Hello there" -o hello.wav\n\n'
    '  voiceclone say --local --sample me.wav "No account needed" -o local.wav\n\n'
    "  voiceclone voices add ana ana.m4a\n\n"
    "  voiceclone book novel.epub --voice ana -o novel.m4b\n\n"
    "  voiceclone batch play.txt --cast ana=ana --cast bob=bob.wav -d out/ --join play.wav\n\n"
    "  voiceclone serve --engine local\n\n"
    "  voiceclone config set api-key\n\n"
    "Run 'voiceclone COMMAND --help' for a command's options, 'voiceclone --version' for the version."
)


def _load(where: tuple[str, str, str]):
    import importlib

    module = importlib.import_module(where[0])
    return module, getattr(module, where[1])


def _root_app(*, complete: bool) -> typer.Typer:
    """The whole app: with every command's real options (``complete``: for the completion
    generator and tests), or listing each by its one-line help only (the root ``--help``)."""
    root = typer.Typer(name=PROG, help=ROOT_HELP, epilog=ROOT_EPILOG, no_args_is_help=True, add_completion=False,
                       pretty_exceptions_enable=False, context_settings=HELP_OPTIONS, cls=Group)
    for name, where in COMMANDS.items():
        if complete:
            module, function = _load(where)
            root.command(name, cls=Command, epilog=module.EXAMPLES, context_settings=HELP_OPTIONS)(function)
        else:
            root.command(name, cls=Command, help=where[2], context_settings=HELP_OPTIONS)(lambda: None)
    for name, where in GROUPS.items():
        if complete:
            root.add_typer(_load(where)[1], name=name)
        else:
            root.command(name, cls=Command, help=where[2], context_settings=HELP_OPTIONS)(lambda: None)

    @root.callback()
    def _root() -> None:
        """Clone a voice from a short sample and speak any text in it."""

    return root


def full_app() -> typer.Typer:
    """Every command with its real options (completions, help tests)."""
    return _root_app(complete=True)


def _build(name: str):
    """The click command for one top-level name, built alone.

    Building the whole group costs every invocation the construction of every command's
    options, and parsing through the group runs the group's own option processing (in Typer
    0.29, which pyproject keeps out, its pydantic coercion layer): ~70 ms on ``say --help``.
    """
    if name in GROUPS:
        return typer.main.get_command(_load(GROUPS[name])[1])
    module, function = _load(COMMANDS[name])
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name, cls=Command, epilog=module.EXAMPLES, context_settings=HELP_OPTIONS)(function)
    return typer.main.get_command(single)


def _innermost_command(argv: list[str]):
    """The command the leading words name, its path, and the arguments left for it."""
    if not argv or argv[0] not in COMMANDS.keys() | GROUPS.keys():
        return typer.main.get_command(_root_app(complete=False)), [], argv
    command, path, argv = _build(argv[0]), [argv[0]], argv[1:]
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
    err(common.line(f"{message} — {hint}" if hint else message, "error"))


def _wants_json(argv: list[str]) -> bool:
    args = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in args


def _fail(code: int, message: str, hint: str = "", *, as_json: bool = False) -> int:
    """The one line for people on stderr; with ``--json`` also one object for scripts on stdout
    (unless the command already wrote its own JSON there, e.g. a batch summary)."""
    report(message, hint)
    if as_json and not common.data_emitted():
        import json

        kind = ExitCode(code).name.lower() if code in ExitCode._value2member_map_ else "signal"
        try:
            common.emit(json.dumps({"error": {"code": code, "kind": kind, "message": scrub(message),
                                              "hint": scrub(hint)}}))
        except VoicecloneError:  # stdout closed or failing: the stderr line is all there is
            pass
    return code


def _claim_standard_fds() -> None:
    """Keep fds 0-2 open (on /dev/null if the caller closed them).

    Otherwise the first file or socket opened takes the free number: with stderr closed, a
    library's message would land in the output file or the HTTP connection. A closed stdout
    stays visible as ``sys.stdout is None`` (Python saw it at start-up), which the commands
    refuse before any work.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _settle_stdout() -> None:
    """If stdout failed (a full disk, a closed pipe), make the interpreter's final flush quiet."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)


# Errors of a device that cannot take more: our own writes turn them into clear errors where
# they happen; one that escapes comes from a write we do not wrap (help printed by click).
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _interrupted(as_json: bool = False) -> int:
    """Report a stop by Ctrl-C, SIGTERM or SIGHUP; its exit status is 128 + the signal."""
    signum = stopping.received()
    if signum is None:
        return _fail(int(ExitCode.INTERRUPTED), "interrupted", as_json=as_json)
    return _fail(128 + signum, f"stopped by {stopping.signal_name(signum)}", as_json=as_json)


def main(argv: list[str] | None = None, environment: Environment | None = None) -> int:
    """Run the CLI and return its exit code (see ``errors.ExitCode``).

    ``environment`` replaces the process's streams and terminal flags (tests, embedding).
    """
    if environment is None:
        _claim_standard_fds()
    common.begin_run()
    restore_signals = stopping.install()
    try:
        try:
            with environment.bound() if environment is not None else contextlib.nullcontext():
                code = _run(argv)
        except KeyboardInterrupt:  # a signal between the command's end and here
            code = _interrupted()
    finally:
        restore_signals()
        from voiceclone_cli.output.atomic import remove_live_temps

        remove_live_temps()  # e.g. abandoned batch workers' files after a signal
        _settle_stdout()
    return code


def entry() -> None:
    """The ``voiceclone`` program: ``main``, then out without the interpreter's teardown.

    When ``main`` returns, every output is closed, every temp file removed and stdout flushed;
    what the interpreter would still do is free each module and object in turn, 0.1-0.2 s after
    a book or a batch that the user waits for at the prompt. Exit handlers still run (logging's
    flush among them). A command that left a thread of its own working exits the usual way.
    """
    import atexit
    import threading

    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)


def _run(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _wants_debug(argv)
    as_json = _wants_json(argv)
    click_exception = _click_exception_type()
    path: list[str] = []
    try:
        if argv in (["--version"], ["-V"]):  # listed in the root help's epilog
            # Handled before Typer: a root-level option would make every subcommand's start-up
            # pay for Typer's option processing, even for --help.
            common.emit(f"{PROG} {__version__}")
            return 0
        command, path, rest = _innermost_command(argv)
        result = command.main(args=rest, prog_name=" ".join([PROG, *path]), standalone_mode=False)
        if result == ExitCode.INTERRUPTED:  # Typer turns KeyboardInterrupt into this code
            return _interrupted(as_json)
        return int(result) if isinstance(result, int) else 0
    except VoicecloneError as exc:
        if debug:
            err(traceback.format_exc().rstrip())
        if exc.exit_code == ExitCode.INTERRUPTED:
            return _interrupted(as_json)
        return _fail(int(exc.exit_code), exc.message, exc.hint, as_json=as_json)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err("")
        return _fail(int(ExitCode.INTERRUPTED), "aborted", as_json=as_json)
    except KeyboardInterrupt:
        return _interrupted(as_json)
    except click_exception as exc:  # bad flags, missing arguments, out-of-range values
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, on stdout
            common.emit(exc.format_message().rstrip("\n"))
            return int(ExitCode.USAGE)
        message = exc.format_message()
        if not message:  # an empty one follows help shown for a bare group: nothing to add
            return int(ExitCode.USAGE)
        return _fail(int(ExitCode.USAGE), message, f"see '{' '.join([PROG, *path, '--help'])}'", as_json=as_json)
    except BrokenPipeError:
        return int(ExitCode.OUTPUT)
    except Exception as exc:  # a bug: say so plainly, point at --debug
        if isinstance(exc, OSError) and exc.errno in _FULL:  # e.g. help sent to a full disk
            return _fail(int(ExitCode.OUTPUT), f"cannot write the output: {exc.strerror}",
                         "free some space, or send the output elsewhere", as_json=as_json)
        if debug:
            err(traceback.format_exc().rstrip())
        return _fail(int(ExitCode.INTERNAL), f"internal error: {type(exc).__name__}: {scrub(str(exc))[:200]}",
                     "run again with --debug and report it" if not debug else "please report it", as_json=as_json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
