"""HTTP client for the hosted sync-clone API.

Contract (the provider's page): ``POST {endpoint}/api/sync-clone``, multipart ``audio_file`` +
``text`` (+ ``speed``, ``pitch``), ``Authorization: Bearer KEY``; 200 is ``audio/wav``; errors
are JSON ``{"detail": ...}``. What is retried: 429, 5xx, network errors, timeouts and broken
200s (not audio, cut short, oversized). What is never retried: 400/401/403/404/413/422, since
sending the same request again cannot succeed and could cost money.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voiceclone_cli import __version__
from voiceclone_cli.errors import (
    AuthError,
    InputError,
    RateLimitedError,
    ServerError,
    VoicecloneError,
)
from voiceclone_cli.retry import RateGate, RetryPolicy, parse_retry_after
from voiceclone_cli.wav import Audio, WavFormatError, parse_wav

if TYPE_CHECKING:
    import httpx

    from voiceclone_cli.sample import PreparedSample

log = logging.getLogger("voiceclone.http")

MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # ~45 min of 48 kHz mono 16-bit: far above any chunk
_MAX_ERROR_BODY = 64 * 1024
_AUDIO_TYPES = ("audio/", "application/octet-stream")


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


def error_detail(body: bytes, content_type: str) -> str:
    """The server's ``detail`` as one short line, whatever shape it came in."""
    text = body.decode("utf-8", "replace")
    detail: Any = None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            detail = json.loads(text).get("detail")
        except (ValueError, AttributeError):
            detail = None
    if isinstance(detail, list):  # FastAPI-style validation errors
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    if detail is None:
        detail = text if "html" not in content_type else ""
    line = " ".join(str(detail).split())
    return line[:300] + ("…" if len(line) > 300 else "")


def _format_number(value: float) -> str:
    return f"{value:g}"


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

    def __repr__(self) -> str:  # never show the key, even in a debugger or traceback
        return f"SyncCloneClient({self.api_url!r}, api_key='****')"

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    headers={"User-Agent": f"voiceclone/{__version__}"},
                    follow_redirects=False,
                )
            return self._http

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
            try:
                return self._attempt(sample, fields)
            except _Retryable as failure:
                if attempt >= self.policy.retries:
                    raise failure.error from None
                delay = failure.retry_after
                if delay is not None and delay > self.policy.max_retry_after:
                    raise RateLimitedError(
                        f"{failure.error.message}; the server asks to wait {delay:.0f} s",
                        hint="try again later",
                    ) from None
                if delay is None:
                    delay = self.policy.backoff(attempt, self._rng)
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
        started = time.monotonic()
        try:
            with self._client().stream(
                "POST",
                self.api_url,
                headers={"Authorization": f"Bearer {self._api_key}"},
                data=fields,
                files={"audio_file": (sample.filename, sample.data, sample.mime_type)},
            ) as response:
                log.debug(
                    "HTTP %d %s (%s) after %.2f s", response.status_code, response.reason_phrase,
                    response.headers.get("content-type", "-"), time.monotonic() - started,
                )
                if response.status_code == 200:
                    return self._read_audio(response)
                self._raise_for_status(response)
                raise AssertionError("unreachable")  # pragma: no cover
        except httpx.TimeoutException as exc:
            phase = "connect" if isinstance(exc, httpx.ConnectTimeout) else "response"
            limit = self.connect_timeout if phase == "connect" else self.timeout
            raise _Retryable(
                ServerError(f"no {phase} from {self._host()} within {limit:g} s",
                            hint="raise --timeout, or check your connection")
            ) from None
        except httpx.ConnectError as exc:
            raise _Retryable(
                ServerError(f"cannot connect to {self._host()}: {_reason(exc)}",
                            hint="check your connection and --endpoint")
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                ServerError(f"connection to {self._host()} broke: {_reason(exc)}",
                            hint="check your connection; try again")
            ) from None

    def _read_audio(self, response: httpx.Response) -> Audio:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise _Retryable(ServerError(f"server sent an oversized response ({int(declared)} bytes)"))
        if not content_type.startswith(_AUDIO_TYPES):
            raise _Retryable(
                ServerError(f"server sent {content_type or 'no content type'} instead of audio/wav")
            )
        body = bytearray()
        for block in response.iter_bytes():
            body.extend(block)
            if len(body) > self.max_response_bytes:
                raise _Retryable(ServerError("server sent an oversized response"))
        try:
            return parse_wav(bytes(body))
        except WavFormatError as exc:
            raise _Retryable(ServerError(f"server sent a broken WAV ({exc})")) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        body = b""
        for block in response.iter_bytes():
            body += block
            if len(body) > _MAX_ERROR_BODY:
                break
        detail = error_detail(body, response.headers.get("content-type", "")) or response.reason_phrase
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
        if status == 404 or 300 <= status < 400:
            raise ServerError(
                f"no sync-clone API at {self.api_url} ({message})",
                hint="check --endpoint / VOICECLONE_ENDPOINT (the base URL, without /api/sync-clone)",
            )
        raise ServerError(f"unexpected response ({message})")

    def _host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.api_url).netloc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
