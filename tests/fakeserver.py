"""A loopback implementation of the sync-clone API contract, with switchable faults.

It enforces what the provider's page documents (Bearer auth, multipart fields, formats,
5-30 s, 4.5 MB, 1000 characters, speed/pitch ranges, JSON ``detail`` errors) so a client bug
shows up as a refusal, and records every request so tests can assert on what was (not) sent.
It answers with a deterministic "voice": a tone whose length follows the text and speed and
whose frequency follows the pitch, framed by silence, as a 16-bit WAV.

Faults are queued with ``server.fail(...)`` and consumed one per request, in order.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import socket
import struct
import threading
import time
import wave
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

VALID_KEY = "vc-test-key-0123456789abcdef"
BASIC_PLAN_KEY = "vc-basic-plan-key-000000"
MAX_BYTES = 4_500_000
MAX_TEXT = 1000
SECONDS_PER_CHAR = 0.02


@dataclass
class Recorded:
    time: float
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    filename: str | None
    file_bytes: int
    file_sha256: str = ""
    status: int = 0
    rate: int = 0


@dataclass
class Fault:
    """One scripted misbehaviour.

    ``kind`` is status|drop|truncate|content_type|slow|bad_wav|drip|drip_headers. A ``status``
    fault answers with ``detail`` as JSON (or ``body`` as ``content_type`` when given), plus
    ``headers``. ``drip`` sends a 200's headers, then one byte of body every ``delay`` seconds;
    ``drip_headers`` sends the status line and headers themselves one byte every ``delay``
    seconds. Both go on until the client hangs up or the server stops. ``bad_wav`` with a
    ``body`` sends any bytes as ``audio/wav``.
    """

    kind: str
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    content_type: str = "text/html"
    body: bytes | None = None
    detail: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # content_type/bad_wav: send ``body`` with chunked transfer encoding


@dataclass
class ServerState:
    rate: int = 24000
    rates: list[int] = field(default_factory=list)  # per-request rates, cycled, if set
    amplitudes: list[float] = field(default_factory=list)  # per-request levels, cycled
    latency: float = 0.0  # seconds from a request received to its answer sent, the work included
    faults: list[Fault] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    served: int = 0
    # Optional, off by default: a token-bucket rate limit answering 429 with Retry-After
    # (requests per second, and how many may come at once), and texts refused with a status
    # whenever they contain a given substring (a fault tied to a line, not to request order).
    rate_limit: float = 0.0
    rate_limit_burst: int = 1
    refused_texts: dict[str, int] = field(default_factory=dict)
    seconds_per_char: float = SECONDS_PER_CHAR  # raise it for an engine that answers long audio
    # A recording (mono float at ``rate``) answers are cut from instead of a tone, so that what
    # runs on the audio (encoders above all, which are far slower on a pure tone) sees speech.
    speech: np.ndarray | None = None


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "m4a"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _duration(data: bytes, fmt: str) -> float:
    if fmt == "wav":
        import soundfile as sf

        return sf.info(io.BytesIO(data)).duration
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = sum(frame.samples for frame in container.decode(stream))
        return frames / stream.rate


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """Minimal RFC 7578 parser: returns text fields and (filename, bytes) files."""
    boundary = None
    for part in content_type.split(";"):
        part = part.strip()
        if part.startswith("boundary="):
            boundary = part[len("boundary="):].strip('"')
    if not boundary:
        raise ValueError("no boundary")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, value = chunk.partition(b"\r\n\r\n")
        value = value[:-2] if value.endswith(b"\r\n") else value
        disposition = ""
        for line in head.decode("latin-1").split("\r\n"):
            if line.lower().startswith("content-disposition:"):
                disposition = line
        params = {}
        for item in disposition.split(";")[1:]:
            key, _, val = item.strip().partition("=")
            params[key] = val.strip('"')
        name = params.get("name", "")
        if "filename" in params:
            files[name] = (params["filename"], value)
        else:
            fields[name] = value.decode("utf-8")
    return fields, files


_loop: list = [None, None]  # the last recording given, and its loop


def _speech_loop(speech: np.ndarray) -> np.ndarray:
    """``speech`` at an RMS of 1/4, repeated to two minutes: answers are slices of it."""
    if _loop[0] is not speech:
        level = max(1e-9, float(np.sqrt(np.mean(speech * speech))))
        _loop[:] = [speech, np.resize(speech / level / 4, max(len(speech) * 2, 120 * 48000)).astype(np.float32)]
    return _loop[1]


def make_voice_wav(text: str, speed: float, pitch: float, rate: int, amplitude: float,
                   seconds_per_char: float = SECONDS_PER_CHAR, speech: np.ndarray | None = None) -> bytes:
    seconds = max(0.2, len(text) * seconds_per_char / speed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    freq = 220.0 * (2.0 ** pitch)
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)  # no clicks inside the chunk
    if speech is not None and len(speech):  # a cut of it, at the even level a real voice has
        loop = _speech_loop(speech)
        start = zlib.crc32(text.encode("utf-8")) % len(speech)
        voice = loop[start:start + n] if start + n <= len(loop) else loop[(np.arange(n) + start) % len(loop)]
    else:
        voice = np.sin(2 * math.pi * freq * t)
    tone = amplitude * envelope * voice
    silence = np.zeros(int(0.3 * rate))
    signal = np.concatenate([silence, tone, silence])
    pcm = np.round(np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server: "FakeSyncCloneServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _json(self, status: int, detail, extra_headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"detail": detail}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self._record.status = status
        self.wfile.write(body)

    def _raw(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self._record.status = status
        self.wfile.write(body)

    def _drip(self, fault: Fault) -> None:
        """Trickle bytes until the client hangs up (a write fails) or the server stops."""
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\n"
                b"Content-Length: 100000000\r\n\r\n")
        body = iter(lambda: b"\0", None)  # forever
        if fault.kind == "drip":
            self.wfile.write(head)
            self.wfile.flush()
            pieces = body
        else:
            pieces = itertools.chain((head[i : i + 1] for i in range(len(head))), body)
        self._record.status = -3
        self.close_connection = True
        for piece in pieces:
            if self.server.stopping.wait(fault.delay):
                return
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:  # the client went away: this handler thread ends here
                return

    def do_POST(self) -> None:  # noqa: N802
        arrived = time.monotonic()
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        try:
            fields, files = parse_multipart(body, self.headers.get("Content-Type", ""))
        except ValueError:
            fields, files = {}, {}
        upload = files.get("audio_file")
        self._record = Recorded(
            time=time.monotonic(), path=self.path, headers=dict(self.headers.items()),
            fields=fields, filename=upload[0] if upload else None,
            file_bytes=len(upload[1]) if upload else 0,
            file_sha256=hashlib.sha256(upload[1]).hexdigest() if upload else "",
        )
        with self.server.lock:
            state.requests.append(self._record)
            wait = self.server.rate_limit_wait() if state.rate_limit else 0.0
            fault = state.faults.pop(0) if state.faults and not wait else None
            index = state.served
            state.served += 1
        if wait:  # answered at once, as a real gateway would, before any work
            return self._json(429, "Rate limit exceeded. Please try again later", {"Retry-After": f"{wait:.3f}"})
        # The latency is the whole time the server takes, its own work included (reading the
        # upload too): the answer is made first, then sent once ``latency`` has passed since
        # the request arrived.
        answer = None if fault is not None else self._answer(state, fields, upload, index)
        if state.latency and self._stopped_during(max(0.0, arrived + state.latency - time.monotonic())):
            return
        if fault is not None:
            if self._inject(fault):
                return
            answer = self._answer(state, fields, upload, index)
        status, payload, rate = answer
        if status != 200:
            return self._json(status, payload)
        self._record.rate = rate
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self._record.status = 200
        self.wfile.write(payload)

    def _answer(self, state, fields, upload, index):
        """(status, detail or WAV bytes, rate) for a request, as the documented service answers."""
        if self.path != "/api/sync-clone":
            return 404, "Not Found", 0
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {BASIC_PLAN_KEY}":
            return 403, "Professional or Unlimited subscription required", 0
        if auth != f"Bearer {VALID_KEY}":
            return 401, "Invalid or missing API key", 0
        if upload is None or "text" not in fields:
            return 422, [{"loc": ["body", "audio_file"], "msg": "field required"}], 0
        data = upload[1]
        if len(data) > MAX_BYTES:
            return 413, "Audio file too large. Maximum size: 4.5MB", 0
        fmt = _sniff(data)
        if fmt is None:
            return 400, "Invalid audio file format. Supported formats: WAV, MP3, M4A", 0
        try:
            seconds = _duration(data, fmt)
        except Exception:
            return 400, "Could not decode audio file", 0
        if not 5.0 <= seconds <= 30.0:
            return 400, f"Audio duration must be between 5 and 30 seconds (got {seconds:.2f})", 0
        text = fields["text"]
        if len(text) > MAX_TEXT:
            return 422, "Text too long for synchronous processing. Use async endpoint for texts over 1000 characters", 0
        if not text.strip():
            return 422, "Text must not be empty", 0
        try:
            speed = float(fields.get("speed", "1.0"))
            pitch = float(fields.get("pitch", "0.0"))
        except ValueError:
            return 422, "speed and pitch must be numbers", 0
        if not 0.5 <= speed <= 2.0 or not -1.0 <= pitch <= 1.0:
            return 422, "speed must be 0.5-2.0 and pitch -1.0-1.0", 0
        for needle, status in state.refused_texts.items():
            if needle in text:
                return status, f"refused text containing {needle!r}", 0
        rate = state.rates[index % len(state.rates)] if state.rates else state.rate
        amplitude = state.amplitudes[index % len(state.amplitudes)] if state.amplitudes else 0.5
        return 200, make_voice_wav(text, speed, pitch, rate, amplitude, state.seconds_per_char, state.speech), rate

    def _stopped_during(self, seconds: float) -> bool:
        """Wait ``seconds``; True, with the connection dropped, if the server stops meanwhile:
        a handler left waiting by a finished test must not go on working under later ones."""
        if not self.server.stopping.wait(seconds):
            return False
        self.close_connection = True
        self._record.status = -4
        return True

    def _inject(self, fault: Fault) -> bool:
        """Apply a fault; return True if the request is answered (or killed) by it."""
        if fault.kind == "slow":
            return self._stopped_during(fault.delay)
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            headers.update(fault.headers)
            if fault.body is not None:
                self._raw(fault.status, fault.body, fault.content_type, headers)
                return True
            detail = fault.detail or {429: "Rate limit exceeded. Please try again later",
                                      500: "Internal server error. Please try again later"}.get(
                fault.status, "Service unavailable")
            self._json(fault.status, detail, headers)
            return True
        if fault.kind in ("drip", "drip_headers"):
            self._drip(fault)
            return True
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            self._record.status = -1
            return True
        if fault.kind == "truncate":
            audio = make_voice_wav("truncated answer", 1.0, 0.0, 24000, 0.5)
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio[: len(audio) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            self._record.status = -2
            return True
        if fault.kind in ("content_type", "bad_wav"):
            body = fault.body or (b"<html>maintenance</html>" if fault.kind == "content_type"
                                  else b"RIFF" + struct.pack("<I", 1000) + b"WAVEfmt " + b"\0" * 8)
            self._record.status = 200  # recorded before the client can have the answer
            self.send_response(200)
            self.send_header("Content-Type", fault.content_type if fault.kind == "content_type" else "audio/wav")
            if fault.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 4096):
                    piece = body[start : start + 4096]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            return True
        raise ValueError(f"unknown fault {fault.kind}")


class FakeSyncCloneServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = ServerState()
        self.lock = threading.Lock()
        self._tokens: float | None = None  # the rate limit's bucket, filled on first use
        self._refilled = 0.0
        self.stopping = threading.Event()  # ends handlers that would otherwise never finish
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handle_error(self, request, client_address) -> None:
        """Faults kill connections on purpose; do not print their tracebacks."""

    def rate_limit_wait(self) -> float:
        """Take a token for one request: 0 if there was one, else seconds until there is.

        Called with ``self.lock`` held.
        """
        now = time.monotonic()
        capacity = max(1, self.state.rate_limit_burst)
        if self._tokens is None:
            self._tokens = float(capacity)
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * self.state.rate_limit)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.state.rate_limit

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def requests(self) -> list[Recorded]:
        return self.state.requests

    def fail(self, *faults: Fault | str) -> None:
        """Queue faults: a Fault, or shorthand '429', '500', 'drop', 'truncate', 'bad_wav', 'content_type'."""
        with self.lock:
            for f in faults:
                if isinstance(f, str):
                    f = Fault("status", status=int(f)) if f.isdigit() else Fault(f)
                self.state.faults.append(f)

    def start(self) -> "FakeSyncCloneServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
