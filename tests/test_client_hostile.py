"""The HTTP client against a hostile or broken network: names that do not resolve, servers
that trickle bytes, redirect, echo the key, or send odd headers and bodies."""

import random
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from email.utils import formatdate

import pytest

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer, Fault, make_voice_wav
from voiceclone_cli.engines.remote import http_deadline
from voiceclone_cli.engines.remote.client import SyncCloneClient, error_detail
from voiceclone_cli.errors import RateLimitedError, ServerError
from voiceclone_cli.engines.remote.retry import RetryPolicy
from voiceclone_cli.prepare.sample import prepare_sample

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
HANG = 60  # seconds: only a hang detector, never a speed assertion


@pytest.fixture
def prepared(sample_wav):
    return prepare_sample(sample_wav)


def make_client(url, retries=4, sleeps=None, **kw):
    return SyncCloneClient(
        url, VALID_KEY, policy=RetryPolicy(retries=retries),
        sleep=(sleeps if sleeps is not None else []).append, rng=random.Random(7), **kw,
    )


def finishes(call):
    """Run ``call`` in a thread; fail (instead of hanging the suite) if it never returns."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"still running after {HANG} s: the request was never bounded"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def offline_dns(monkeypatch):
    """Resolve only through ``answers`` (host -> gaierror errno); anything else fails the test."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    answers, asked = {}, []

    def fake_getaddrinfo(host, *args, **kwargs):
        asked.append(host)
        assert host in answers, f"unexpected name lookup: {host}"
        raise socket.gaierror(answers[host], "scripted resolver answer")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return answers, asked


# --- 1. a host that does not exist is a permanent error -------------------------------------


def test_a_name_that_does_not_exist_fails_at_once_but_a_resolver_timeout_is_retried(offline_dns, prepared):
    answers, asked = offline_dns
    answers["gone.example.invalid"] = socket.EAI_NONAME
    answers["flaky.example.invalid"] = socket.EAI_AGAIN  # "temporary failure in name resolution"
    sleeps = []
    gone = make_client("https://gone.example.invalid/api/sync-clone", sleeps=sleeps)
    with pytest.raises(ServerError, match="^cannot resolve host gone.example.invalid$") as info:
        gone.synthesize(prepared, "Hello")
    assert "--endpoint" in info.value.hint
    assert gone.stats.requests == 1 and gone.stats.retries == 0 and sleeps == []

    flaky = make_client("https://flaky.example.invalid/api/sync-clone", retries=2, sleeps=sleeps)
    with pytest.raises(ServerError, match="cannot connect to flaky.example.invalid"):
        flaky.synthesize(prepared, "Hello")
    assert flaky.stats.requests == 3 and len(sleeps) == 2
    assert asked == ["gone.example.invalid"] + ["flaky.example.invalid"] * 3


def test_say_with_an_endpoint_that_does_not_resolve_makes_one_attempt(cli, sample_wav, monkeypatch, tmp_path):
    """Through the real resolver: .invalid never resolves (RFC 6761), and nothing else is
    looked up or reached (no proxy, every lookup checked)."""
    try:
        socket.getaddrinfo("example.invalid", 443)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            pytest.skip("this machine's resolver does not answer (EAI_AGAIN)")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    real_getaddrinfo, asked = socket.getaddrinfo, []

    def only_example_invalid(host, *args, **kwargs):
        asked.append(host)
        assert host == "example.invalid", f"unexpected name lookup: {host}"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", only_example_invalid)
    monkeypatch.setenv("VOICECLONE_API_KEY", VALID_KEY)
    r = cli(["say", "-s", sample_wav, "Hello", "-o", tmp_path / "o.wav",
             "--endpoint", "https://example.invalid", "--debug"])
    assert r.code == 6, r.stderr
    assert "voiceclone: error: cannot resolve host example.invalid — check --endpoint" in r.stderr
    assert r.stderr.count("debug: POST https://example.invalid/api/sync-clone") == 1
    assert "retry" not in r.stderr
    assert asked == ["example.invalid"]
    assert VALID_KEY not in r.stderr
    assert list(tmp_path.iterdir()) == []


# --- 2. --timeout bounds the whole attempt ---------------------------------------------------


def test_say_against_a_server_that_drips_its_body_ends_after_every_attempt(cli, api_env, sample_wav, tmp_path):
    api_env.fail(Fault("drip", delay=0.3), Fault("drip", delay=0.3))
    out = tmp_path / "o.wav"
    r = finishes(lambda: cli(["say", "-s", sample_wav, "Hello", "-o", out, "--timeout", "1", "--retries", "1"]))
    assert r.code == 6, r.stderr
    host = api_env.url.removeprefix("http://")
    assert f"voiceclone: error: no complete response from {host} within 1 s — raise --timeout" in r.stderr
    assert "retry 1 of 1" in r.stderr
    assert len(api_env.requests) == 2
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file


@pytest.mark.parametrize("hooked", [True, False], ids=["socket-deadline", "body-check-only"])
def test_a_body_drip_is_cut_at_the_deadline(server, prepared, monkeypatch, hooked):
    if not hooked:  # as with an httpx whose pool cannot be reached: the body loop still checks
        monkeypatch.setattr(http_deadline, "install", lambda client: False)
    server.fail(Fault("drip", delay=0.2))
    client = make_client(server.url + "/api/sync-clone", retries=0, timeout=0.8)
    with pytest.raises(ServerError, match=r"no complete response from .* within 0.8 s"):
        finishes(lambda: client.synthesize(prepared, "Hello"))
    assert client.stats.requests == 1


def test_headers_dripped_byte_by_byte_are_cut_at_the_deadline(server, prepared):
    """No single read waits long, and no response object exists yet: only the socket-level
    deadline can stop this one."""
    server.fail(Fault("drip_headers", delay=0.1), Fault("drip_headers", delay=0.1))
    sleeps = []
    client = make_client(server.url + "/api/sync-clone", retries=1, sleeps=sleeps, timeout=0.8)
    with pytest.raises(ServerError, match=r"no complete response from .* within 0.8 s"):
        finishes(lambda: client.synthesize(prepared, "Hello"))
    assert client.stats.requests == 2 and len(sleeps) == 1
    assert len(server.requests) == 2


def test_the_deadline_is_per_attempt_and_a_good_answer_after_a_drip_succeeds(server, prepared):
    server.fail(Fault("drip", delay=0.2))
    client = make_client(server.url + "/api/sync-clone", retries=1, timeout=0.8)
    audio = finishes(lambda: client.synthesize(prepared, "Hello"))
    assert audio.seconds > 0 and client.stats.requests == 2
    assert http_deadline.remaining() is None  # nothing left armed on this thread


# --- TLS: an untrusted certificate is permanent; the deadline holds over TLS too ------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=HANG,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate
    srv = FakeSyncCloneServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv.socket = context.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.start()
    yield srv
    srv.stop()


def test_an_untrusted_certificate_fails_at_once(tls_server, prepared, monkeypatch):
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", *PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    sleeps = []
    client = make_client(tls_server.url.replace("http://", "https://") + "/api/sync-clone", sleeps=sleeps)
    with pytest.raises(ServerError, match="^the TLS certificate of 127.0.0.1 is not trusted") as info:
        client.synthesize(prepared, "Hello")
    assert "SSL_CERT_FILE" in info.value.hint
    assert client.stats.requests == 1 and sleeps == [] and tls_server.requests == []


def test_a_drip_over_tls_is_cut_at_the_deadline(tls_server, certificate, prepared, monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate
    tls_server.fail(Fault("drip", delay=0.2))
    client = make_client(tls_server.url.replace("http://", "https://") + "/api/sync-clone", retries=1, timeout=0.8)
    audio = finishes(lambda: client.synthesize(prepared, "Hello"))  # the retry gets a real answer
    assert audio.seconds > 0
    assert client.stats.requests == 2 and len(tls_server.requests) == 2


# --- 3. hostile responses -------------------------------------------------------------------


def streamed_wav(data_size):
    """A real WAV from the fake voice, its data size replaced (0xFFFFFFFF: "unknown length")."""
    wav = bytearray(make_voice_wav("streamed answer", 1.0, 0.0, 24000, 0.5))
    assert wav[36:40] == b"data"
    wav[4:8] = struct.pack("<I", 0xFFFFFFFF)
    wav[40:44] = struct.pack("<I", data_size)
    return bytes(wav)


def test_a_chunked_answer_with_a_streaming_wav_header_is_accepted_but_a_lying_one_is_not(server, prepared):
    expected = len(make_voice_wav("streamed answer", 1.0, 0.0, 24000, 0.5)) - 44
    server.fail(Fault("bad_wav", body=streamed_wav(0xFFFFFFFF), chunked=True))
    audio = make_client(server.url + "/api/sync-clone", retries=0).synthesize(prepared, "Hello")
    assert len(audio.samples) == expected // 2 and audio.rate == 24000

    server.fail(Fault("bad_wav", body=streamed_wav(expected + 1000), chunked=True))  # claims more than sent
    with pytest.raises(ServerError, match="broken WAV .*truncated"):
        make_client(server.url + "/api/sync-clone", retries=0).synthesize(prepared, "Hello")


def test_a_redirect_is_not_followed_and_the_key_does_not_leave(server, prepared):
    elsewhere = FakeSyncCloneServer().start()
    try:
        target = elsewhere.url + "/api/sync-clone"
        server.fail(Fault("status", status=307, headers={"Location": target}))
        with pytest.raises(ServerError, match=f"redirects \\(HTTP 307\\) to {target}; not followed") as info:
            make_client(server.url + "/api/sync-clone").synthesize(prepared, "Hello")
        assert "--endpoint" in info.value.hint
        assert len(server.requests) == 1 and elsewhere.requests == []
    finally:
        elsewhere.stop()


@pytest.mark.parametrize("padding", [0, 280], ids=["whole", "cut-at-300-chars"])
def test_a_detail_that_echoes_the_key_is_masked(server, prepared, padding):
    server.fail(Fault("status", status=401, detail="x" * padding + f" bad key {VALID_KEY}"))
    with pytest.raises(Exception) as info:
        make_client(server.url + "/api/sync-clone").synthesize(prepared, "Hello")
    message = info.value.message
    assert VALID_KEY[:6] not in message
    if not padding:
        assert message.endswith("bad key ****)")


def test_terminal_escapes_in_a_detail_are_not_passed_through(server, prepared):
    server.fail(Fault("status", status=500, detail="\x1b]0;owned\x07\x1b[2J\rdisk\x00 full"))
    with pytest.raises(ServerError) as info:
        make_client(server.url + "/api/sync-clone", retries=0).synthesize(prepared, "Hello")
    message = info.value.message
    assert not any(not ch.isprintable() for ch in message), repr(message)
    assert "disk full" in message


def test_deeply_nested_json_error_body_is_a_server_error_not_a_crash(server, prepared):
    body = b'{"detail": ' + b"[" * 60_000
    server.fail(Fault("status", status=500, body=body, content_type="application/json"))
    with pytest.raises(ServerError, match=r"server error \(HTTP 500: \{\"detail\": \[\[\["):
        make_client(server.url + "/api/sync-clone", retries=0).synthesize(prepared, "Hello")
    assert error_detail(b"[" * 60_000, "application/json").startswith("[[[")


def test_a_long_retry_after_on_a_503_stays_a_server_error(server, prepared):
    server.fail(Fault("status", status=503, retry_after="86400"))
    with pytest.raises(ServerError, match="asks to wait 86400 s") as info:
        make_client(server.url + "/api/sync-clone").synthesize(prepared, "Hello")
    assert info.value.exit_code == 6
    assert len(server.requests) == 1


def test_an_endless_retry_after_is_reported_in_words(server, prepared):
    server.fail(Fault("status", status=429, retry_after="9" * 400))  # too big for a float
    with pytest.raises(RateLimitedError, match="asks to wait without end$"):
        make_client(server.url + "/api/sync-clone").synthesize(prepared, "Hello")
    assert len(server.requests) == 1


@pytest.mark.parametrize("value", ["-5", "1e309", "inf", "past date"])
def test_a_malformed_or_past_retry_after_falls_back_to_backoff(server, prepared, value):
    value = formatdate(0, usegmt=True) if value == "past date" else value
    server.fail(Fault("status", status=503, retry_after=value))
    sleeps = []
    client = make_client(server.url + "/api/sync-clone", sleeps=sleeps)
    assert client.synthesize(prepared, "Hello").seconds > 0
    expected = RetryPolicy().backoff(0, random.Random(7))
    assert expected > 0 and sleeps == [expected]
