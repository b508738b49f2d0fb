"""``voiceclone serve``: the sync-clone API and an OpenAI-style speech API, self-hosted.

Parses options, refuses unsafe set-ups (a public address without keys), builds the engine and
hands everything to ``voiceclone_cli.serve``. The web stack is imported only here, inside the
command, so no other command's start-up pays for it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voiceclone_cli.commands.common import info
from voiceclone_cli.errors import EngineUnavailableError, UsageError

EXAMPLES = """\
[bold]Examples[/bold]

  voiceclone serve

  voiceclone serve --host 0.0.0.0 --port 8000 --keys keys.txt --rate 30/min

  curl -X POST http://127.0.0.1:8000/api/sync-clone -F audio_file=@me.wav -F "text=Hello" -o hello.wav
"""

SERVE_EXTRA_HINT = "pip install 'voiceclone-cli[serve]'"
ENGINES = ("local", "remote")
LOG_FORMATS = ("text", "json")
# For tests only: "module:callable" returning an engine, used instead of --engine (uncached).
TEST_ENGINE_ENV = "VOICECLONE_SERVE_TEST_ENGINE"
_OPTIONS_ENV = "VOICECLONE_SERVE_OPTIONS"  # how --workers processes get the options


def engine_names(incomplete: str) -> list[str]:
    return [name for name in ENGINES if name.startswith(incomplete)]


def log_formats(incomplete: str) -> list[str]:
    return [name for name in LOG_FORMATS if name.startswith(incomplete)]


def make_serve_engine(name: str, no_cache: bool) -> Any:
    """The engine every request shares (behind the response cache unless ``no_cache``)."""
    hook = os.environ.get(TEST_ENGINE_ENV)
    if hook:
        import importlib

        module, _, attribute = hook.partition(":")
        return getattr(importlib.import_module(module), attribute)()
    from voiceclone_cli.commands.common import open_engine

    return open_engine(engine=name, local=False, no_cache=no_cache, flags={}, quiet=True)


def prepare_voice(engine: Any, sample_path: Path, strict: bool) -> Any:
    """A voice for ``engine`` from a sample file: an upload, or a saved voice's sample, which is
    then used as ``--voice NAME`` is (with the engine state kept in the voice's folder)."""
    from voiceclone_cli.prepare.voice import load_voice_sample
    from voiceclone_cli.voices.library import saved_voice_at

    saved = saved_voice_at(sample_path)
    if saved is not None:
        return engine.prepare_voice(saved.prepared_sample())
    return engine.prepare_voice(load_voice_sample(sample=sample_path, strict=strict))


def setup_server_logging(log_format: str, quiet: bool) -> None:
    from voiceclone_cli.serve.accesslog import AccessFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(AccessFormatter(log_format))
    for name, level in (("voiceclone", logging.WARNING if quiet else logging.INFO),
                        ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(level)


def build_app(options: dict[str, Any]):
    """The ASGI app for these options (in this process, or in each --workers process)."""
    from voiceclone_cli.serve.app import create_app
    from voiceclone_cli.serve.limits import parse_rate

    setup_server_logging(options["log_format"], options["quiet"])
    engine = make_serve_engine(options["engine"], options["no_cache"])
    rate = parse_rate(options["rate"]) if options["rate"] else None
    keys = Path(options["keys"]) if options["keys"] else None
    return create_app(engine, prepare_voice, keys_file=keys, rate=rate, max_queue=options["max_queue"])


def worker_app():
    """uvicorn's app factory in each --workers process."""
    return build_app(json.loads(os.environ[_OPTIONS_ENV]))[0]


def serve(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on. Anything but loopback needs --keys.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", min=0, max=65535, help="Port to listen on (0: any free port, printed at start).")] = 8000,
    engine: Annotated[str, typer.Option(metavar="NAME", autocompletion=engine_names, help="The engine that makes the audio: local, remote or an installed plugin ('voiceclone engines').")] = "local",
    workers: Annotated[int, typer.Option(metavar="N", min=1, max=64, help="Server processes (uvicorn workers), each with its own engine.")] = 1,
    keys: Annotated[Optional[Path], typer.Option(metavar="FILE", help="API keys, one a line (# comments); reloaded on SIGHUP. Without it: loopback only, no auth.", show_default=False)] = None,
    rate: Annotated[Optional[str], typer.Option(metavar="N/min", help="Requests each key may make, e.g. 30/min or 2/s; over it: 429 with Retry-After.", show_default=False)] = None,
    max_queue: Annotated[int, typer.Option("--max-queue", metavar="N", min=0, max=10000, help="Requests that may wait for the engine; more: 503 with Retry-After.")] = 16,
    grace: Annotated[float, typer.Option(metavar="SECONDS", min=0, max=3600, help="On SIGTERM or Ctrl-C, how long requests in flight may take to finish.")] = 30.0,
    log_format: Annotated[str, typer.Option("--log-format", metavar="|".join(LOG_FORMATS), autocompletion=log_formats, help="Access log format on stderr.")] = "text",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Use no response cache: every chunk is made again.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No access log; only warnings and errors on stderr.")] = False,
) -> None:
    """Serve the sync-clone API and an OpenAI-style speech API over HTTP."""
    from voiceclone_cli.engines.registry import require_engine

    require_engine(engine)
    if log_format not in LOG_FORMATS:
        raise UsageError(f"unknown --log-format {log_format!r}", hint="choose text or json")
    try:
        from voiceclone_cli.serve import server
    except ImportError as exc:
        raise EngineUnavailableError(f"voiceclone serve is not installed (missing: {exc.name})",
                                     hint=f"install it with: {SERVE_EXTRA_HINT}") from None
    from voiceclone_cli.serve.keys import read_keys
    from voiceclone_cli.serve.limits import parse_rate
    from voiceclone_cli.settings import is_loopback_host

    if rate:
        parse_rate(rate)  # refused before anything starts
    if keys is None and not is_loopback_host(host):
        raise UsageError(f"refusing to serve on {host} without --keys: anyone who can reach it could use it",
                         hint="give --keys FILE (one API key a line), or serve on 127.0.0.1")
    if keys is not None:
        read_keys(keys)  # a missing or empty file is refused now, not at the first request
    options = {"engine": engine, "no_cache": no_cache, "rate": rate, "max_queue": max_queue,
               "keys": str(keys.resolve()) if keys else None, "log_format": log_format, "quiet": quiet}
    sock = server.bind(host, port)
    auth = f"{len_keys(keys)} keys from {keys}" if keys else "no keys: loopback only, no authentication"
    try:
        if workers == 1:
            app, state = build_app(options)
            info(f"serving the {state.engine.name} engine on {server.url_of(sock)} ({auth})")
            server.serve_one(app, sock, grace=grace, on_hangup=state.keys.reload)
        else:
            os.environ[_OPTIONS_ENV] = json.dumps(options)
            setup_server_logging(log_format, quiet)
            info(f"serving the {engine} engine on {server.url_of(sock)} with {workers} workers ({auth})")
            server.serve_many("voiceclone_cli.commands.serve:worker_app", sock, workers=workers, grace=grace)
    finally:
        sock.close()
    info("stopped", quiet)


def len_keys(keys: Path) -> int:
    from voiceclone_cli.serve.keys import read_keys

    return len(read_keys(keys))
