"""The HTTP routes: the sync-clone contract, the OpenAI-style speech API, and health.

Every route checks what it can from the headers alone (key, rate, size, queue) before it reads
a byte of the body, so a refused request costs the server almost nothing. Samples and text are
checked by the same code the CLI uses (``prepare.sample``, ``prepare.text``); the audio is made
by ``speech.speak``, so chunking and joins are exactly those of ``voiceclone say``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from voiceclone_cli import limits as contract
from voiceclone_cli.errors import InputError, RateLimitedError, SampleError, TextError, VoicecloneError
from voiceclone_cli.serve.encode import SPEECH_FORMATS, SpeechFormat
from voiceclone_cli.serve.keys import KeyRing
from voiceclone_cli.serve.limits import QueueFull, RateLimiter, WorkQueue, retry_after
from voiceclone_cli.serve.production import (
    DATA, END, ERROR, ClientGone, Production, QueueSink, make_job, next_item, until_disconnected,
)

log = logging.getLogger("voiceclone.serve")

# A multipart body holds the sample plus the text and a few small fields: the margin is ample
# for those (1000 characters are at most 4 KB) and the part headers.
SYNC_BODY_LIMIT = contract.SAMPLE_MAX_BYTES + 64 * 1024
JSON_BODY_LIMIT = 256 * 1024
OTHER_BODY_LIMIT = 16 * 1024
OPENAI_MAX_INPUT = 4096  # OpenAI's own limit for one speech request

# The sync-clone page's own wording, so clients written for the hosted service see what they expect.
NO_KEY = "Invalid or missing API key"
TOO_LARGE = "Audio file too large. Maximum size: 4.5MB"
TOO_LONG = "Text too long for synchronous processing. Use async endpoint for texts over 1000 characters"
RATE_LIMITED = "Rate limit exceeded. Please try again later"
INTERNAL = "Internal server error. Please try again later"
BUSY = "Server busy: the queue is full. Please try again later"
BAD_FORMAT = "Invalid audio file format. Supported formats: WAV, MP3, M4A"


def body_limit(path: str) -> int:
    if path == "/api/sync-clone":
        return SYNC_BODY_LIMIT
    if path.startswith("/v1/"):
        return JSON_BODY_LIMIT
    return OTHER_BODY_LIMIT


class Problem(Exception):
    """An answer other than audio: status, detail and headers; rendered per API family."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None,
                 code: str | None = None, param: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.code, self.param = status, detail, headers or {}, code, param


_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                 413: "invalid_request_error", 429: "rate_limit_error", 503: "server_busy"}


def render_problem(path: str, problem: Problem) -> Response:
    """``{"detail": ...}`` as the sync-clone page documents it; OpenAI's error object on /v1."""
    if path.startswith("/v1/"):
        body: dict[str, Any] = {"error": {
            "message": problem.detail, "type": _OPENAI_TYPES.get(problem.status, "server_error"),
            "param": problem.param, "code": problem.code,
        }}
    else:
        body = {"detail": problem.detail}
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


# Prepares a voice for the engine from a sample file (the command decides how: see
# ``commands.serve.prepare_voice``).
VoicePreparer = Callable[[Any, Path, bool], Any]


@dataclass
class ServeState:
    engine: Any
    keys: KeyRing
    limiter: RateLimiter
    work: WorkQueue
    prepare_voice: VoicePreparer
    library_dir: Path | None = None
    ready: bool = False
    _voices: dict[str, Any] = field(default_factory=dict)  # saved voice sha256 -> prepared voice
    _voices_lock: threading.Lock = field(default_factory=threading.Lock)

    def saved_voice(self, stored) -> Any:
        """A saved voice prepared once per server (and again only if its sample changes)."""
        with self._voices_lock:
            voice = self._voices.get(stored.sha256)
        if voice is None:
            voice = self.prepare_voice(self.engine, stored.sample_path, False)
            with self._voices_lock:
                self._voices[stored.sha256] = voice
        return voice


def state_of(request: Request) -> ServeState:
    return request.app.state.serve


# -- checks made on the headers alone ---------------------------------------------------------

def admit_headers(request: Request) -> str:
    """Key, rate and declared size: the client whose request may go on, or a Problem."""
    state = state_of(request)
    if state.keys.required:
        key = state.keys.check(request.headers.get("authorization"))
        if key is None:
            raise Problem(401, NO_KEY, headers={"WWW-Authenticate": "Bearer"}, code="invalid_api_key")
        client = "key:" + key
    else:
        client = "host:" + (request.client.host if request.client else "")
    wait = state.limiter.take(client)
    if wait > 0:
        raise Problem(429, RATE_LIMITED, headers={"Retry-After": retry_after(wait)}, code="rate_limit_exceeded")
    return client


class Ticket:
    """A place in the work queue, held from the body's first byte to the audio's last."""

    def __init__(self, work: WorkQueue) -> None:
        self.work = work
        try:
            work.admit()
        except QueueFull:
            raise Problem(503, BUSY, headers={"Retry-After": retry_after(work.suggested_wait())},
                          code="server_busy") from None
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self.work.release()


def error_problem(exc: BaseException, *, openai: bool) -> Problem:
    """What a failure while making the audio becomes for the client."""
    if isinstance(exc, SampleError):
        return Problem(400, exc.message, code="invalid_sample")
    if isinstance(exc, TextError):
        return Problem(400 if openai else 422, exc.message, code="invalid_input")
    if isinstance(exc, InputError):
        return Problem(400, exc.message)
    if isinstance(exc, RateLimitedError):  # an upstream service (the remote engine) said so
        return Problem(429, RATE_LIMITED, headers={"Retry-After": "30"})
    reason = exc.message if isinstance(exc, VoicecloneError) else f"{type(exc).__name__}: {exc}"
    log.error("engine failure: %s", reason)
    return Problem(500, INTERNAL, code="engine_failure")


# -- making the audio ---------------------------------------------------------------------------

async def produce(request: Request, work_fn: Callable[[QueueSink], None], fmt: SpeechFormat,
                  *, stream: bool) -> tuple[Production, asyncio.Task, tuple[str, Any]]:
    """Start the job once a slot is free, and wait for its first output (all of it unless
    streaming). Leaving clients stop waiting and stop the job."""
    state = state_of(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancelled = threading.Event()
    sink = QueueSink(fmt, loop, queue, cancelled, stream=stream)
    production = Production(queue, sink, cancelled)
    disconnected = asyncio.ensure_future(until_disconnected(request.receive))
    starting = asyncio.ensure_future(state.work.start(make_job(sink, work_fn)))
    done, _ = await asyncio.wait({starting, disconnected}, return_when=asyncio.FIRST_COMPLETED)
    if starting not in done:  # gone while waiting in the queue: never start the job
        starting.add_done_callback(lambda task: None if task.cancelled() else production.cancel())
        production.cancel()
        starting.cancel()
        raise ClientGone
    try:
        first = await next_item(production, disconnected)
    except BaseException:
        disconnected.cancel()
        raise
    return production, disconnected, first


def speech_work(state: ServeState, text: str, voice_source: Callable[[], Any], *, speed: float,
                pitch: float, rate: int | None = None) -> Callable[[QueueSink], None]:
    from voiceclone_cli.speech import speak

    def work(sink: QueueSink) -> None:
        voice = voice_source()
        speak(text, state.engine, voice, sink, speed=speed, pitch=pitch, prefetch=1, rate=rate)

    return work


class AudioStream:
    """A streamed answer: the bytes already made, then the rest as the job makes them."""

    def __init__(self, production: Production, disconnected: asyncio.Task, first: bytes,
                 media_type: str, headers: dict[str, str], ticket: Ticket,
                 frame: Callable[[bytes], bytes] = lambda data: data, trailer: bytes = b"") -> None:
        self.production, self.disconnected, self.first = production, disconnected, first
        self.media_type, self.headers, self.ticket = media_type, headers, ticket
        self.frame, self.trailer = frame, trailer
        self.status_code = 200

    async def __call__(self, scope, receive, send) -> None:
        headers = [(b"content-type", self.media_type.encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": self.frame(self.first), "more_body": True})
            while True:
                kind, value = await next_item(self.production, self.disconnected)
                if kind == DATA:
                    await send({"type": "http.response.body", "body": self.frame(value), "more_body": True})
                elif kind == END:
                    break
                else:  # too late for a status: end the stream early, the client sees it cut
                    if not isinstance(value, ClientGone):
                        error_problem(value, openai=True)  # logged
                    return
            await send({"type": "http.response.body", "body": self.trailer, "more_body": False})
        except (ClientGone, OSError):
            self.production.cancel()
        finally:
            self.production.cancel()  # a no-op once the job ended
            self.disconnected.cancel()
            self.ticket.release()


async def collect(production: Production, disconnected: asyncio.Task, first: tuple[str, Any], *,
                  openai: bool) -> bytes:
    """The whole answer of a job that was not streamed."""
    parts = []
    item = first
    try:
        while True:
            kind, value = item
            if kind == ERROR:
                if isinstance(value, ClientGone):
                    raise value
                raise error_problem(value, openai=openai)
            if kind == END:
                return b"".join(parts)
            parts.append(value)
            item = await next_item(production, disconnected)
    finally:
        disconnected.cancel()


# -- POST /api/sync-clone ---------------------------------------------------------------------

def _number(form, name: str, default: float, low: float, high: float) -> float:
    raw = form.get(name)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return default
    try:
        value = float(raw) if isinstance(raw, str) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Problem(422, f"{name} must be a number")
    if not low <= value <= high:
        raise Problem(422, f"{name} must be between {low:g} and {high:g} (got {value:g})")
    return value


def declared_length(request: Request, limit: int, detail: str) -> None:
    """Refuse a body declared larger than ``limit`` before reading any of it."""
    raw = request.headers.get("content-length")
    if raw is not None:
        try:
            length = int(raw)
        except ValueError:
            raise Problem(400, "invalid Content-Length") from None
        if length > limit:
            raise Problem(413, detail, code="payload_too_large")


async def sync_clone(request: Request) -> Response:
    state = state_of(request)
    admit_headers(request)
    declared_length(request, SYNC_BODY_LIMIT, TOO_LARGE)
    ticket = Ticket(state.work)
    folder = None
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 * 1024)
        upload = form.get("audio_file")
        if upload is None or isinstance(upload, str):
            raise Problem(422, "audio_file is required: send the voice sample as a file field")
        text = form.get("text")
        if not isinstance(text, str):
            raise Problem(422, "text is required")
        speed = _number(form, "speed", contract.SPEED_DEFAULT, contract.SPEED_MIN, contract.SPEED_MAX)
        pitch = _number(form, "pitch", contract.PITCH_DEFAULT, contract.PITCH_MIN, contract.PITCH_MAX)
        data = await upload.read(contract.SAMPLE_MAX_BYTES + 1)
        await upload.close()
        if len(data) > contract.SAMPLE_MAX_BYTES:
            raise Problem(413, TOO_LARGE, code="payload_too_large")
        if not data:
            raise Problem(400, BAD_FORMAT + " (the file is empty)")
        text = _clean(text)
        if len(text) > contract.MAX_TEXT_CHARS:
            raise Problem(422, TOO_LONG)
        folder = Path(tempfile.mkdtemp(prefix="voiceclone-serve-"))
        sample = folder / _upload_name(upload.filename)
        sample.write_bytes(data)
        del data
        work = speech_work(state, text, lambda: state.prepare_voice(state.engine, sample, True),
                           speed=speed, pitch=pitch)
        production, disconnected, first = await produce(request, work, SPEECH_FORMATS["wav"], stream=False)
        body = await collect(production, disconnected, first, openai=False)
        return Response(body, media_type="audio/wav")
    finally:
        ticket.release()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _clean(text: str) -> str:
    from voiceclone_cli.prepare.text import normalize_text

    cleaned = normalize_text(text)
    if not cleaned.strip():
        raise Problem(422, "Text must not be empty")
    return cleaned


def _upload_name(filename: str | None) -> str:
    """A safe local name that keeps the client's (shown in messages about the sample)."""
    name = Path(filename or "").name
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name).lstrip(".")
    return safe[:100] or "audio_file"


# -- POST /v1/audio/speech --------------------------------------------------------------------

@dataclass
class SpeechRequest:
    text: str
    voice: str
    format: SpeechFormat
    speed: float
    stream: str | None  # None, "audio" or "sse"


def parse_speech(body: Any) -> SpeechRequest:
    if not isinstance(body, dict):
        raise Problem(400, "the body must be a JSON object")
    text = body.get("input")
    if not isinstance(text, str):
        raise Problem(400, "input is required: the text to speak", param="input")
    text = normalize_openai_input(text)
    voice = body.get("voice")
    if isinstance(voice, dict):  # OpenAI's newer {"id": ...} form
        voice = voice.get("id")
    if not isinstance(voice, str) or not voice.strip():
        raise Problem(400, "voice is required: the name of a saved voice", param="voice")
    name = body.get("response_format") or "mp3"
    if name not in SPEECH_FORMATS:
        raise Problem(400, f"response_format must be one of {', '.join(SPEECH_FORMATS)} (got {name!r})",
                      param="response_format")
    speed = body.get("speed", 1.0)
    if speed is None:
        speed = 1.0
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        raise Problem(400, "speed must be a number", param="speed")
    if not contract.SPEED_MIN <= speed <= contract.SPEED_MAX:
        raise Problem(400, f"speed must be between {contract.SPEED_MIN:g} and {contract.SPEED_MAX:g} "
                           f"with this server (got {speed:g})", param="speed")
    stream_format = body.get("stream_format")
    if stream_format not in (None, "audio", "sse"):
        raise Problem(400, "stream_format must be 'audio' or 'sse'", param="stream_format")
    stream = stream_format or ("audio" if body.get("stream") is True else None)
    return SpeechRequest(text, voice.strip(), SPEECH_FORMATS[name], float(speed), stream)


def normalize_openai_input(text: str) -> str:
    from voiceclone_cli.prepare.text import normalize_text

    cleaned = normalize_text(text)
    if not cleaned.strip():
        raise Problem(400, "input is empty", param="input")
    if len(cleaned) > OPENAI_MAX_INPUT:
        raise Problem(400, f"input is {len(cleaned)} characters; at most {OPENAI_MAX_INPUT} are "
                           "accepted in one request", param="input")
    return cleaned


def find_voice(state: ServeState, name: str):
    from voiceclone_cli.voices.library import UnknownVoiceError, VoiceLibrary

    library = VoiceLibrary(state.library_dir)
    try:
        return library.get(name)
    except UnknownVoiceError:
        names = library.voice_names()
        listed = ", ".join(names) if names else "none (add one with: voiceclone voices add NAME SAMPLE)"
        raise Problem(400, f"unknown voice {name!r}; saved voices: {listed}", param="voice",
                      code="voice_not_found") from None
    except InputError as exc:  # a damaged voice
        raise Problem(400, exc.message, param="voice") from None


async def speech(request: Request) -> Response:
    state = state_of(request)
    admit_headers(request)
    declared_length(request, JSON_BODY_LIMIT, f"the body is over {JSON_BODY_LIMIT // 1024} KB")
    ticket = Ticket(state.work)
    streaming = False
    try:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "the body is not valid JSON") from None
        wanted = parse_speech(body)
        stored = find_voice(state, wanted.voice)
        fmt = wanted.format
        work = speech_work(state, wanted.text, lambda: state.saved_voice(stored), speed=wanted.speed, pitch=0.0)
        production, disconnected, first = await produce(request, work, fmt, stream=wanted.stream is not None)
        if wanted.stream is None:
            audio = await collect(production, disconnected, first, openai=True)
            return Response(audio, media_type=fmt.media_type, headers=_rate_header(fmt, production))
        kind, value = first
        if kind == ERROR:
            disconnected.cancel()
            if isinstance(value, ClientGone):
                raise value
            raise error_problem(value, openai=True)
        first_bytes = value if kind == DATA else b""
        if kind == END:
            production.queue.put_nowait((END, None))
        streaming = True
        if wanted.stream == "sse":
            done = {"type": "speech.audio.done",
                    "usage": {"input_tokens": len(wanted.text), "output_tokens": 0, "total_tokens": len(wanted.text)}}
            return AudioStream(production, disconnected, first_bytes, "text/event-stream",
                               {"Cache-Control": "no-cache", **_rate_header(fmt, production)}, ticket,
                               frame=_sse_delta, trailer=_sse(done))
        return AudioStream(production, disconnected, first_bytes, fmt.media_type,
                           _rate_header(fmt, production), ticket)
    finally:
        if not streaming:  # a stream gives its ticket back when it ends
            ticket.release()


def _rate_header(fmt: SpeechFormat, production: Production) -> dict[str, str]:
    rate = production.sink.rate
    return {"X-Sample-Rate": str(rate)} if rate else {}


def _sse(event: dict) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _sse_delta(data: bytes) -> bytes:
    if not data:
        return b""
    return _sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")})


# -- listings and health ----------------------------------------------------------------------

async def voices(request: Request) -> Response:
    admit_headers(request)
    from voiceclone_cli.voices.library import StoredVoice, VoiceLibrary

    entries = await asyncio.get_running_loop().run_in_executor(
        None, VoiceLibrary(state_of(request).library_dir).list)
    listed = [{"name": e.name, "duration": round(e.seconds, 3)} for e in entries if isinstance(e, StoredVoice)]
    return JSONResponse({"voices": listed})


async def models(request: Request) -> Response:
    admit_headers(request)
    engine = state_of(request).engine
    return JSONResponse({"object": "list", "data": [
        {"id": f"voiceclone-{engine.name}", "object": "model", "created": 0, "owned_by": "voiceclone"},
    ]})


async def healthz(request: Request) -> Response:
    from voiceclone_cli import __version__

    state = state_of(request)
    return JSONResponse({
        "engine": state.engine.name, "engine_version": state.engine.version, "version": __version__,
        "ready": state.ready, "queue": state.work.waiting, "running": state.work.running,
        "workers": state.work.workers, "process": os.getpid(),
    }, status_code=200 if state.ready else 503)


async def gone(request: Request, exc: ClientDisconnect | ClientGone) -> Response:
    """The client left: nobody will read this answer; the access log shows 499."""
    request.scope["voiceclone.client_gone"] = True
    return Response(status_code=499)
