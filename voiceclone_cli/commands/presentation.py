"""How every command and group presents itself: help that shows what to type, and ``--version``.

Typer's rich help (0.26-0.28, the versions pyproject allows) labels each parameter with its Python type: ``<bool>`` beside flags
that take no value, ``<str>`` and ``<float range>`` beside options, ``<str>`` beside an argument
whose name is already shown, and ``{INPUT}`` for a required argument in the usage line. Our
options carry metavars that say what to type (``PATH``, ``SECONDS``, ``0.5..2.0``); these classes
make Typer show those, nothing beside flags, and ``INPUT`` in the usage line.

Help is plain text, drawn by click's formatter rather than rich: the same sections (usage,
arguments, options with their metavars, the examples), without boxes or colour. Rich drew each
option row in about 1.5 ms, and ``say`` has over thirty: its help took three times as long to
print as the rest of the start-up. Examples are printed as written, never re-wrapped, so they
can be pasted.

Every command and group also answers ``--version``/``-V`` the way it answers ``--help``: an
eager flag, so it works before (and regardless of) the command's required arguments. It is
added next to the help option, not as a root callback option, because parsing through the root
group would cost every invocation Typer's coercion layer (see ``cli._build``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from voiceclone_cli import __version__
from voiceclone_cli.commands.common import PROG

VERSION_OPTION_NAMES = ("--version", "-V")


class _Option(TyperOption):
    def display_type_rich(self, ctx) -> str | None:
        if self.is_flag or self.count:
            return None  # a flag takes no value, so there is nothing to type after it
        return super().display_type_rich(ctx)

    def _get_number_range_help_str(self) -> str | None:
        if self.metavar == f"{self.min}..{self.max}":
            return None  # the metavar already is the range
        return super()._get_number_range_help_str()


class _Argument(TyperArgument):
    def display_type_rich(self, ctx) -> str | None:
        return None  # the name column already shows the metavar

    def get_usage_pieces(self, ctx) -> list[str]:
        """``INPUT`` in the usage line (``[INPUT]`` when optional), not Typer's ``{INPUT}``."""
        name = (self.metavar or (self.name or "").upper()) + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]


_PRESENTED_AS = {TyperOption: _Option, TyperArgument: _Argument}


def _present(params: list) -> list:
    """Give Typer's parameters our rendering; they parse exactly as before (same layout)."""
    for param in params:
        presented = _PRESENTED_AS.get(type(param))
        if presented is not None:
            param.__class__ = presented
    return params


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        print(f"{PROG} {__version__}")
        raise typer.Exit(0)


def _version_holder(
    version: Annotated[bool, typer.Option(*VERSION_OPTION_NAMES, is_eager=True, callback=_show_version,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Only declares the option, so Typer builds it as it builds every other flag."""


@cache
def _version_option():
    holder = typer.Typer(add_completion=False)
    holder.command()(_version_holder)
    (option,) = typer.main.get_command(holder).params
    option.expose_value = False  # commands do not take a ``version`` argument
    return option


def _with_version(command, params: list) -> list:
    taken = {name for p in command.params for name in (*p.opts, *p.secondary_opts)}
    if not command.add_help_option or taken & set(VERSION_OPTION_NAMES):
        return params
    return [*params, _version_option()]


_MARKUP = re.compile(r"\[/?(?:bold|dim|italic|red|green|yellow|cyan|magenta|blue)\]")


def _plain(text: str) -> str:
    """Help text as a terminal shows it: rich's markup tags dropped, its escapes undone."""
    return _MARKUP.sub("", text).replace("\\[", "[")


class _PlainHelp:
    """click's plain help for a Typer command or group (see the module docstring)."""

    def format_help(self, ctx, formatter) -> None:
        from typer._click.core import Command as PlainCommand

        start = len(formatter.buffer)
        PlainCommand.format_help(self, ctx, formatter)
        formatter.buffer[start:] = [_plain(part) for part in formatter.buffer[start:]]

    def format_epilog(self, ctx, formatter) -> None:
        if not self.epilog:
            return
        formatter.write_paragraph()
        indent = " " * (formatter.current_indent + 2)
        for line in _plain(self.epilog).strip("\n").splitlines():
            formatter.write(f"{indent}{line.strip()}\n" if line.strip() else "\n")


class Command(_PlainHelp, TyperCommand):
    """A voiceclone command: plain help with readable metavars, and ``--version``."""

    def get_params(self, ctx) -> list:
        return _present(_with_version(self, super().get_params(ctx)))


class Group(_PlainHelp, TyperGroup):
    """A voiceclone command group: plain help, and ``--version``."""

    def format_commands(self, ctx, formatter) -> None:
        """Each command with its whole first sentence: wrapped, never cut off with '...'."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=300)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_params(self, ctx) -> list:
        return _present(_with_version(self, super().get_params(ctx)))
