"""The ASGI application: routes, the body cap, the access log and the engine's lifetime."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from voiceclone_cli.serve import routes
from voiceclone_cli.serve.accesslog import AccessLog
from voiceclone_cli.serve.keys import KeyRing
from voiceclone_cli.serve.limits import RateLimiter, WorkQueue
from voiceclone_cli.serve.production import ClientGone

log = logging.getLogger("voiceclone.serve")


class BodyTooLarge(Exception):
    pass


class BodyCap:
    """Cut off a body at its route's cap, whatever its Content-Length said (or if it had none).

    A declared length over the cap is refused by the route before reading; this catches the
    client that lies about it, or streams it chunked, without buffering past the cap.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = routes.body_limit(scope["path"])
        total = 0

        async def capped_receive():
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, capped_receive, send)


# An error answered before a body was read: up to this much of the body is still received (and
# thrown away) so the client can read the answer. Closing with unread bytes makes the kernel
# reset the connection, and a client still uploading then sees "connection reset" instead of
# the 401 or 413 (seen with `requests` sending a 7.7 MB sample).
DRAIN_LIMIT = 16 * 1024 * 1024


async def _problem(request, exc: routes.Problem):
    response = routes.render_problem(request.url.path, exc)
    if request.method == "POST" and not _drainable(request):
        response.headers["Connection"] = "close"  # a body too large, or of unknown length: hang up
    return response


def _drainable(request) -> bool:
    """Whether the rest of the request's body is small enough to receive and discard."""
    declared = request.headers.get("content-length")
    return declared is not None and declared.isdigit() and int(declared) <= DRAIN_LIMIT


async def _http_exception(request, exc: HTTPException):
    """Starlette's own refusals (e.g. a malformed multipart body) in this API's error shape."""
    return await _problem(request, routes.Problem(exc.status_code, str(exc.detail)))


async def _too_large(request, exc: BodyTooLarge):
    detail = routes.TOO_LARGE if request.url.path == "/api/sync-clone" else "the body is too large"
    response = await _problem(request, routes.Problem(413, detail, code="payload_too_large"))
    response.headers["Connection"] = "close"  # cut off at the cap: none of the rest is taken
    return response


async def _internal(request, exc: Exception):
    return routes.render_problem(request.url.path, routes.error_problem(exc, openai=request.url.path.startswith("/v1/")))


def create_app(engine: Any, prepare_voice: routes.VoicePreparer, *, keys_file: Path | None = None,
               rate=None, max_queue: int = 16, library_dir: Path | None = None) -> tuple[Any, routes.ServeState]:
    """The ASGI app around one engine, and its state (keys to reload, queue to watch).

    The work queue is made at start-up, inside the server's event loop; the engine is closed
    when the app shuts down, after the requests in flight have finished.
    """
    state = routes.ServeState(
        engine=engine, keys=KeyRing(keys_file), limiter=RateLimiter(rate),
        work=None, prepare_voice=prepare_voice, library_dir=library_dir,
    )

    @asynccontextmanager
    async def lifespan(app):
        state.work = WorkQueue(max(1, int(engine.max_workers)), max_queue)
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            state.work.close()
            engine.close()

    app = Starlette(
        routes=[
            Route("/api/sync-clone", routes.sync_clone, methods=["POST"]),
            Route("/v1/audio/speech", routes.speech, methods=["POST"]),
            Route("/v1/audio/voices", routes.voices, methods=["GET"]),
            Route("/v1/models", routes.models, methods=["GET"]),
            Route("/healthz", routes.healthz, methods=["GET"]),
        ],
        exception_handlers={
            routes.Problem: _problem, BodyTooLarge: _too_large, ClientDisconnect: routes.gone,
            ClientGone: routes.gone, HTTPException: _http_exception, Exception: _internal,
        },
        lifespan=lifespan,
    )
    app.state.serve = state
    return AccessLog(BodyCap(app)), state

