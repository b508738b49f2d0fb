"""HTTP client for the hosted sync-clone API.

Contract (the provider's page): ``POST {endpoint}/api/sync-clone``, multipart ``audio_file`` +
``text`` (+ ``speed``, ``pitch``), ``Authorization: Bearer KEY``; 200 is ``audio/wav``; errors
are JSON ``{"detail": ...}``. What is retried: 429, 5xx, refused or broken connections, a
temporary DNS failure, attempts that do not complete within ``timeout`` and broken 200s (not
audio, cut short, oversized; a WAV saying "unknown length" in a body the HTTP framing proved
complete is not broken). What is never retried, since sending the same request again
cannot succeed and could cost money: 400/401/403/404/413/422, redirects (never followed: the
key goes only to the configured endpoint), a host name that does not exist, an untrusted TLS
certificate, and a ``Retry-After`` longer than the policy waits for.

``timeout`` bounds a whole attempt — connect, upload, response headers and the entire body —
not each socket read, so a server trickling bytes cannot hold a request forever
(``http_deadline``). Whatever the server sends back is shown as one short line of printable
text with the key masked: an error body may echo the request.
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voiceclone_cli import __version__
from voiceclone_cli.engines.remote import http_deadline
from voiceclone_cli.errors import (
    AuthError,
    InputError,
    RateLimitedError,
    ServerError,
    VoicecloneError,
)
from voiceclone_cli.engines.remote.retry import RateGate, RetryPolicy, parse_retry_after
from voiceclone_cli.audio.wav import Audio, WavFormatError, parse_wav

if TYPE_CHECKING:
    import httpx

    from voiceclone_cli.prepare.sample import PreparedSample

log = logging.getLogger("voiceclone.http")

MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # ~45 min of 48 kHz mono 16-bit: far above any chunk
_MAX_ERROR_BODY = 64 * 1024
_MAX_DETAIL_CHARS = 300
_AUDIO_TYPES = ("audio/", "application/octet-stream")
_TIMEOUT_HINT = "raise --timeout, or check your connection"
# getaddrinfo's answers for "this name does not exist"; EAI_AGAIN (a resolver that did not
# answer in time) is absent on purpose: it is temporary and worth a retry.
_NAME_NOT_FOUND = {
    code for code in (getattr(socket, name, None) for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL"))
    if code is not None
}


class _Retryable(Exception):
    """A failure worth another attempt; carries what to tell the user if attempts run out."""

    def __init__(self, error: VoicecloneError, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        self.rate_limited = rate_limited


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0


def error_detail(body: bytes, content_type: str, secret: str | None = None) -> str:
    """The server's ``detail`` as one short line, whatever shape it came in, ``secret`` masked
    (before the line is cut, so no prefix of it survives)."""
    text = body.decode("utf-8", "replace")
    if secret:
        text = text.replace(secret, "****")
    detail: Any = None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            detail = json.loads(text).get("detail")
        except (ValueError, AttributeError, RecursionError):  # RecursionError: "[[[[…" nesting
            detail = None
    if isinstance(detail, list):  # FastAPI-style validation errors
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    if detail is None:
        detail = text if "html" not in content_type else ""
    return one_line(str(detail))


def one_line(text: str, limit: int = _MAX_DETAIL_CHARS) -> str:
    """Server-chosen text made safe to print: control characters (terminal escape sequences
    could rewrite the screen or the window title) become spaces, runs of space collapse, and it
    is cut to ``limit`` characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    line = " ".join(printable.split())
    return line[:limit] + ("…" if len(line) > limit else "")


def _format_number(value: float) -> str:
    return f"{value:g}"


def _root_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The ``kind`` error under an httpx error (httpx wraps httpcore's, which wraps the OS's)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, kind):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _permanent_connect_failure(exc: BaseException, host: str) -> ServerError | None:
    """The error for a connect failure that no retry can cure, or None if it may be transient.

    A name that does not exist, and a certificate that is not trusted, stay so for the next
    minutes; a refused connection or a resolver that did not answer (EAI_AGAIN) may not.
    """
    import ssl

    dns = _root_cause(exc, socket.gaierror)
    if dns is not None and dns.errno in _NAME_NOT_FOUND:
        return ServerError(
            f"cannot resolve host {host}",
            hint="check --endpoint (or VOICECLONE_ENDPOINT) and your network connection",
        )
    tls = _root_cause(exc, ssl.SSLCertVerificationError)
    if tls is not None:
        reason = one_line(getattr(tls, "verify_message", "") or str(tls), 120)
        return ServerError(
            f"the TLS certificate of {host} is not trusted ({reason})",
            hint="check --endpoint; behind a proxy that inspects TLS, point SSL_CERT_FILE at its CA bundle",
        )
    return None


class SyncCloneClient:
    """Thread-safe: one client (one connection pool, one rate gate) serves every worker."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        policy: RetryPolicy = RetryPolicy(),
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_in_flight: int | None = None,
    ) -> None:
        self.api_url = api_url
        self._api_key = api_key
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.policy = policy
        self.gate = gate or RateGate()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.max_response_bytes = max_response_bytes
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        # At most this many requests await their answer at once, however many threads call: a
        # thread reads, parses and stores its answer (and prepares its next request) outside its
        # slot (``_Slot``).
        self._slots = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None

    def __repr__(self) -> str:  # never show the key, even in a debugger or traceback
        return f"SyncCloneClient({self.api_url!r}, api_key='****')"

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=self._connect_limit()),
                    headers={"User-Agent": f"voiceclone/{__version__}"},
                    follow_redirects=False,
                )
                if not http_deadline.install(self._http):  # pragma: no cover - a new httpx
                    log.debug("cannot bound whole requests with this httpx; body reads are checked")
            return self._http

    def warm_up(self) -> None:
        """Build the HTTP client now; quietly, as the first request would fail with the reason."""
        try:
            self._client()
        except Exception as exc:  # noqa: BLE001 - reported by the request that needs the client
            log.debug("warming up the HTTP client failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def synthesize(self, sample: PreparedSample, text: str, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        """One request's worth of speech, retried as the policy allows."""
        fields = {"text": text}
        if speed != 1.0:
            fields["speed"] = _format_number(speed)
        if pitch != 0.0:
            fields["pitch"] = _format_number(pitch)
        attempt = 0
        while True:
            self.gate.wait()
            started = self.gate.now()
            try:
                return self._attempt(sample, fields)
            except _Retryable as failure:
                # A 429 for a request that was already out when another's 429 came in is that
                # same overload answered again: it waits like any 429 but spends no retry, so
                # workers that hit the limit together do not run out of retries one by one.
                echo = failure.rate_limited and self.gate.pushed_back_since(started)
                if attempt >= self.policy.retries and not echo:
                    raise failure.error from None
                delay = failure.retry_after
                if delay is not None and delay > self.policy.max_retry_after:
                    error = failure.error  # a 503 stays a server error, a 429 a rate limit
                    raise type(error)(
                        f"{error.message}; the server asks to wait {_duration(delay)}",
                        hint="try again later",
                    ) from None
                if delay is None:
                    delay = self.policy.backoff(attempt, self._rng)
                if not echo:
                    attempt += 1
                with self._lock:
                    self.stats.retries += 1
                log.warning(
                    "%s; retry %d of %d in %.1f s", failure.error.message, attempt, self.policy.retries, delay
                )
                if failure.rate_limited:
                    self.gate.hold(delay)  # every worker sharing the gate pauses too
                else:
                    self._sleep(delay)

    def _attempt(self, sample: PreparedSample, fields: dict[str, str]) -> Audio:
        import httpx

        with self._lock:
            self.stats.requests += 1
        log.debug(
            "POST %s text=%d chars audio_file=%s (%d bytes, %s) %s Authorization: Bearer ****",
            self.api_url, len(fields["text"]), sample.filename, len(sample.data), sample.mime_type,
            " ".join(f"{k}={v}" for k, v in fields.items() if k != "text"),
        )
        slot = _Slot(self._slots)
        started = time.monotonic()
        try:
            with http_deadline.deadline(self.timeout), self._client().stream(
                "POST",
                self.api_url,
                headers={"Authorization": f"Bearer {self._api_key}"},
                data=fields,
                files={"audio_file": (sample.filename, sample.data, sample.mime_type)},
            ) as response:
                slot.release()  # answered: the server's work is done, the body is transport
                log.debug(
                    "HTTP %d %s (%s) after %.2f s", response.status_code, one_line(response.reason_phrase),
                    one_line(response.headers.get("content-type", "-")), time.monotonic() - started,
                )
                if response.status_code != 200:
                    self._raise_for_status(response)
                body = self._read_body(response)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise _Retryable(ServerError(
                    f"cannot connect to {self._host()} within {self._connect_limit():g} s", hint=_TIMEOUT_HINT
                )) from None
            raise _Retryable(self._no_complete_response()) from None
        except httpx.ConnectError as exc:
            permanent = _permanent_connect_failure(exc, self._hostname())
            if permanent is not None:
                raise permanent from None
            raise _Retryable(
                ServerError(f"cannot connect to {self._host()}: {self._mask(_reason(exc))}",
                            hint="check your connection and --endpoint")
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                ServerError(f"connection to {self._host()} broke: {self._mask(_reason(exc))}",
                            hint="check your connection; try again")
            ) from None
        finally:
            slot.release()
        return self._parse_audio(body)

    def _body(self, response: httpx.Response) -> Iterator[bytes]:
        """The body's blocks, stopping an attempt past its deadline even if a block was late.

        The deadline is normally enforced below, at each socket read (``http_deadline``); this
        check keeps it when that hook is missing.
        """
        for block in response.iter_bytes():
            if http_deadline.expired():
                raise _Retryable(self._no_complete_response())
            yield block

    def _read_body(self, response: httpx.Response) -> bytes:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise _Retryable(ServerError(f"server sent an oversized response ({int(declared)} bytes)"))
        if not content_type.startswith(_AUDIO_TYPES):
            raise _Retryable(
                ServerError(f"server sent {one_line(content_type, 60) or 'no content type'} instead of audio/wav")
            )
        body = bytearray()
        for block in self._body(response):
            body.extend(block)
            if len(body) > self.max_response_bytes:
                raise _Retryable(ServerError("server sent an oversized response"))
        return bytes(body)

    def _parse_audio(self, body: bytes) -> Audio:
        try:
            # HTTP framing (Content-Length, or chunked encoding's last chunk) has proved the
            # body complete, so a streaming server's "unknown length" data size is no sign of
            # a cut: accept it. A size larger than the body is still refused as truncated.
            return parse_wav(body, allow_streaming_size=True)
        except WavFormatError as exc:
            raise _Retryable(ServerError(f"server sent a broken WAV ({exc})")) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        body = bytearray()
        for block in self._body(response):
            body.extend(block)
            if len(body) > _MAX_ERROR_BODY:
                break
        detail = (error_detail(bytes(body), response.headers.get("content-type", ""), secret=self._api_key)
                  or one_line(response.reason_phrase))
        message = f"HTTP {status}: {detail}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise _Retryable(RateLimitedError(f"rate limited ({message})"), retry_after, rate_limited=True)
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise _Retryable(ServerError(f"server error ({message})", hint="try again later"), retry_after)
        if status == 401:
            raise AuthError(
                f"API key rejected ({message})",
                hint="check the key: voiceclone config set api-key (or VOICECLONE_API_KEY)",
            )
        if status == 403:
            raise AuthError(f"access denied ({message})", hint="check your plan with the provider")
        if status in (400, 413, 422):
            raise InputError(
                f"the service refused the request ({message})",
                hint="check the sample and text; run with --debug to see the request",
            )
        if 300 <= status < 400:
            location = self._mask(one_line(response.headers.get("location", ""), 200)) or "no address"
            raise ServerError(
                f"{self.api_url} redirects (HTTP {status}) to {location}; not followed, so "
                "the API key is not sent there",
                hint="if that is the API's new address, set it with --endpoint or VOICECLONE_ENDPOINT",
            )
        if status == 404:
            raise ServerError(
                f"no sync-clone API at {self.api_url} ({message})",
                hint="check --endpoint / VOICECLONE_ENDPOINT (the base URL, without /api/sync-clone)",
            )
        raise ServerError(f"unexpected response ({message})")

    def _connect_limit(self) -> float:
        return min(self.connect_timeout, self.timeout)

    def _no_complete_response(self) -> ServerError:
        return ServerError(f"no complete response from {self._host()} within {self.timeout:g} s", hint=_TIMEOUT_HINT)

    def _mask(self, text: str) -> str:
        return text.replace(self._api_key, "****") if self._api_key else text

    def _hostname(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.api_url).hostname or "the endpoint"

    def _host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.api_url).netloc


class _Slot:
    """One of the client's requests in flight, held from sending a request until its answer's
    headers arrive. The body is read outside it: while one answer downloads, the next request
    is already being worked on, so ``-j N`` keeps the server busy with N requests rather than
    N minus those being read (a 17 s answer takes ~6 ms to read here, and longer on a slow
    link). Released once, however the attempt ends."""

    def __init__(self, slots: threading.BoundedSemaphore | None) -> None:
        self._slots = slots
        if slots is not None:
            slots.acquire()

    def release(self) -> None:
        if self._slots is not None:
            self._slots, slots = None, self._slots
            slots.release()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if math.isfinite(seconds) else "without end"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return one_line(text.splitlines()[0], 160) if text else type(exc).__name__
