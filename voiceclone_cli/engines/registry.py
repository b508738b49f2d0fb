"""Which engines exist, where each comes from, whether it can speak now, and how to make one.

Engines, built-in or installed, register the same way: an entry point in the group
``voiceclone.engines`` whose object is either a plain factory ``create(settings, **options)``
or an object with ``create(settings, **options)``, an optional ``status(settings)`` and a
``description``. Finding the names reads package metadata only; a plugin's module is imported
when its engine is listed or used, never for ``--help``. A plugin that fails to import, or
whose factory raises, never breaks the CLI: it is listed as broken with the reason, and using
it is exit 8 with that reason. A plugin cannot take a built-in engine's name.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceclone_cli.errors import EngineUnavailableError, UsageError, VoicecloneError

log = logging.getLogger("voiceclone.engines")

GROUP = "voiceclone.engines"
DEFAULT_ENGINE = "remote"
DISTRIBUTION = "voiceclone-cli"
# The built-in engines, as pyproject.toml registers them: used as they are when voiceclone runs
# from a source tree that is not installed (no metadata to read).
BUILTINS = {
    "remote": "voiceclone_cli.engines.remote:PLUGIN",
    "local": "voiceclone_cli.engines.local:PLUGIN",
    "pocket": "voiceclone_cli.engines.pocket:PLUGIN",
}


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can speak right now; if not, what is missing and the command that fixes it."""

    usable: bool
    missing: str = ""
    fix: str = ""


@dataclass(frozen=True)
class EngineListing:
    name: str
    source: str  # "built-in", or "DISTRIBUTION VERSION" for a plugin
    description: str
    status: EngineStatus
    broken: str | None = None  # why the plugin cannot even be loaded

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "description": self.description,
            "usable": self.status.usable and self.broken is None,
            "broken": self.broken, "missing": self.status.missing or None, "fix": self.status.fix or None,
        }


@dataclass(frozen=True)
class _Entry:
    name: str
    value: str  # "module:attribute"
    source: str

    def load(self) -> Any:
        module_name, _, attribute = self.value.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            target = getattr(target, part)
        return target


def missing_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``modules`` cannot be imported (checked without importing them)."""
    return tuple(m for m in modules if importlib.util.find_spec(m) is None)


def _entries() -> dict[str, _Entry]:
    """Every registered engine by name, from metadata only (no plugin code runs)."""
    from importlib.metadata import entry_points

    found = {name: _Entry(name, value, "built-in") for name, value in BUILTINS.items()}
    for point in entry_points(group=GROUP):
        dist = getattr(point, "dist", None)
        dist_name = getattr(dist, "name", None) or "unknown"
        if dist_name.replace("_", "-").lower() == DISTRIBUTION:
            source = "built-in"
        else:
            source = f"{dist_name} {getattr(dist, 'version', '') or ''}".strip()
        if point.name in BUILTINS:
            if source != "built-in":
                log.warning("ignoring the %s engine of %s: the name is the built-in engine's", point.name, source)
            continue
        found[point.name] = _Entry(point.name, point.value, source)
    return found


def _named(name: str) -> _Entry:
    """The entry for ``name``. A built-in is found without reading installed packages' metadata
    (~0.05 s, more with many packages): a plugin cannot take a built-in's name, which would
    hand it the remote engine's API key."""
    if name in BUILTINS:
        return _Entry(name, BUILTINS[name], "built-in")
    return _entry(name, _entries())


def engine_names() -> list[str]:
    return sorted(_entries())


def require_engine(name: str) -> None:
    """Refuse an unknown engine name (exit 2), listing the ones there are."""
    _named(name)


def _entry(name: str, entries: dict[str, _Entry]) -> _Entry:
    if name not in entries:
        raise UsageError(f"no engine named {name!r}",
                         hint=f"engines: {', '.join(sorted(entries))} (see 'voiceclone engines')")
    return entries[name]


def _load(entry: _Entry) -> Any:
    try:
        return entry.load()
    except VoicecloneError:
        raise
    except Exception as exc:  # any import-time failure of third-party code
        raise EngineUnavailableError(
            f"the {entry.name} engine ({entry.source}) cannot be loaded: {_reason(exc)}",
            hint=f"reinstall it, or pick another engine: {', '.join(engine_names())}",
        ) from None


def _factory(plugin: Any) -> Callable[..., Any]:
    return plugin.create if hasattr(plugin, "create") else plugin


def _call(factory: Callable[..., Any], settings: Any, options: dict[str, Any]) -> Any:
    """Call a factory with the options it takes: a plugin may accept ``**options`` or only some
    (or none) of them, and is not broken by options added in later versions."""
    import inspect

    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return factory(settings, **options)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return factory(settings, **options)
    names = {p.name for p in parameters}
    return factory(settings, **{k: v for k, v in options.items() if k in names})


def list_engines(settings: Any) -> list[EngineListing]:
    """Every engine with its state; loading a broken plugin is reported, never raised."""
    listings = []
    builtin_order = list(BUILTINS)
    for entry in sorted(_entries().values(), key=lambda e: (
            builtin_order.index(e.name) if e.name in builtin_order else len(builtin_order), e.name)):
        try:
            plugin = _load(entry)
        except EngineUnavailableError as exc:
            listings.append(EngineListing(entry.name, entry.source, "", EngineStatus(False), broken=exc.message))
            continue
        description = getattr(plugin, "description", None) or _module_summary(plugin)
        status_of = getattr(plugin, "status", None)
        try:
            status = status_of(settings) if callable(status_of) else EngineStatus(True)
        except Exception as exc:
            listings.append(EngineListing(entry.name, entry.source, description, EngineStatus(False),
                                          broken=f"its status check failed: {_reason(exc)}"))
            continue
        listings.append(EngineListing(entry.name, entry.source, description, status))
    return listings


def get_engine(name: str, settings: Any, **options: Any) -> Any:
    """The engine ``name``, made by its factory with ``settings`` (and options it may ignore).

    Unknown name: usage error (exit 2) listing the engines there are. A plugin that cannot be
    loaded, or whose factory fails other than with our own errors: exit 8 with the reason.
    """
    entry = _named(name)
    factory = _factory(_load(entry))
    try:
        return _call(factory, settings, options)
    except VoicecloneError:
        raise
    except Exception as exc:
        raise EngineUnavailableError(
            f"the {name} engine ({entry.source}) failed to start: {_reason(exc)}",
            hint="run 'voiceclone engines' to see what it needs",
        ) from None


def _module_summary(plugin: Any) -> str:
    """A plain factory's description: the first line of its module's docstring."""
    module = sys.modules.get(getattr(plugin, "__module__", "") or "")
    return ((getattr(module, "__doc__", None) or "").strip().splitlines() or [""])[0]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def fetch_engine(name: str, settings: Any, **options: Any) -> str:
    """Let an engine download what it needs ahead of time; returns what was done, for people.

    An engine that has nothing to download (built-in weights, a hosted API) says so; this is
    not an error.
    """
    entry = _named(name)
    fetch = getattr(_load(entry), "fetch", None)
    if not callable(fetch):
        return f"the {name} engine has nothing to download"
    try:
        return _call(fetch, settings, options) or f"the {name} engine is ready"
    except VoicecloneError:
        raise
    except Exception as exc:  # third-party code: one line, never a traceback
        raise EngineUnavailableError(
            f"the {name} engine ({entry.source}) failed to fetch: {_reason(exc)}",
            hint="check the network and the disk, then run the same command again",
        ) from None

