"""``voiceclone serve`` under load and faults: keys, rate limit, queue, body cap, disconnects,
signals and the access log. The fast tone engine (``serve_support.ToneEngine``) stands in for
the real one, and its gate holds requests in flight exactly as long as a test needs."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import read_audio, voice
from tests.serve_support import BIN, TONE_ENGINE, Server, wait_until
from tests import samples

KEYS = ["key-plain", "key-rate", "key-queue", "key-gone", "key-cap", "key-log"]
SPARE_KEYS_LIST = [f"key-spare-{n}" for n in range(40)]
SPARE_KEYS = iter(SPARE_KEYS_LIST)  # one a test: the rate limit is per key


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("serve-faults")


def tone_env(home: Path, **extra: str) -> dict[str, str]:
    return {"VOICECLONE_SERVE_TEST_ENGINE": TONE_ENGINE, "VOICECLONE_CONFIG_DIR": str(home / "config"),
            "VOICECLONE_CACHE_DIR": str(home / "cache"), "VOICECLONE_DATA_DIR": str(home / "data"),
            "VOICECLONE_TEST_GATE": str(home / "gate"), "VOICECLONE_TEST_CALLS": str(home / "calls"), **extra}


@pytest.fixture(scope="module")
def ana(home):
    """A saved voice 'ana' in the servers' data directory."""
    added = subprocess.run([BIN, "voices", "add", "ana", voice(samples.REFERENCE)], capture_output=True,
                           text=True, env={**os.environ, **tone_env(home)})
    assert added.returncode == 0, added.stderr
    return "ana"


@pytest.fixture(scope="module")
def served(home, ana):
    keys = home / "keys.txt"
    keys.write_text("# one key a line\n" + "\n".join(KEYS[:-1] + list(SPARE_KEYS_LIST)) + "\n\n" + KEYS[-1] + "  # the log test's\n")
    server = Server(home, "--keys", keys, "--rate", "5/min", "--max-queue", "1", "--no-cache", env=tone_env(home))
    server.keys = keys
    yield server
    server.stop()


class Gate:
    """Closed: the tone engine holds every call; opened again at the end of the test."""

    def __init__(self, home: Path) -> None:
        self.path = home / "gate"

    def close(self) -> None:
        self.path.touch()

    def open(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture
def gate(home):
    g = Gate(home)
    yield g
    g.open()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def clone(served, key: str, text: str = "Hello there.", **kwargs) -> requests.Response:
    sample = voice(samples.REFERENCE).read_bytes()
    return requests.post(served.url + "/api/sync-clone", headers=auth(key),
                         files={"audio_file": ("me.wav", sample, "audio/wav")}, data={"text": text}, **kwargs)


def in_thread(function, *args) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(function(*args)), daemon=True)
    thread.start()
    return thread, out


def raw_request(served, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    sock.sendall(head.encode() + body)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_no_or_wrong_key_is_401(served):
    for headers in ({}, auth("nope"), {"Authorization": "Basic key-plain"}):
        answer = requests.post(served.url + "/api/sync-clone", headers=headers, data={"text": "Hi"})
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Invalid or missing API key"}
    assert clone(served, "key-plain").status_code == 200


def test_openai_routes_need_the_key_too(served):
    answer = requests.get(served.url + "/v1/models")
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "authentication_error"
    assert requests.get(served.url + "/v1/models", headers=auth("key-plain")).status_code == 200


def test_engine_failure_is_500_with_the_documented_detail(served):
    answer = clone(served, "key-plain", text="Please explode now.")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Internal server error. Please try again later"}


def test_rate_limit_is_429_with_retry_after(served):
    answers = [requests.get(served.url + "/v1/models", headers=auth("key-rate")) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["error"]["message"] == "Rate limit exceeded. Please try again later"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 12  # one request's worth at 5/min
    assert requests.get(served.url + "/v1/models", headers=auth("key-plain")).status_code == 200  # per key


def test_full_queue_is_503_and_the_queued_requests_complete(served, gate):
    gate.close()
    first, first_out = in_thread(clone, served, "key-queue", "First in.")
    wait_until(lambda: served.health()["running"] == 1, what="the first request to run")
    second, second_out = in_thread(clone, served, "key-queue", "Second in.")
    wait_until(lambda: served.health()["queue"] == 1, what="the second request to wait")
    refused = clone(served, "key-queue", "Third in.")
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1 and "queue is full" in refused.json()["detail"]
    gate.open()
    first.join(30), second.join(30)
    assert first_out[0].status_code == second_out[0].status_code == 200
    assert served.health()["queue"] == 0


def test_oversize_is_413_without_reading_the_body(served):
    sock = raw_request(served, "POST /api/sync-clone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-cap\r\n"
                               "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50000000\r\n\r\n")
    status, body = read_answer(sock)  # nothing of the 50 MB was sent
    sock.close()
    assert status == 413 and json.loads(body) == {"detail": "Audio file too large. Maximum size: 4.5MB"}


def test_a_body_without_a_length_is_cut_off_at_the_cap(served):
    sock = raw_request(served, "POST /api/sync-clone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-cap\r\n"
                               "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n")
    part = b'--b\r\nContent-Disposition: form-data; name="audio_file"; filename="a.wav"\r\n\r\n'
    sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
    block = b"x" * 65536
    sent = 0
    try:
        while sent < 20_000_000:
            sock.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
            sent += len(block)
    except OSError:  # the server answered and hung up
        pass
    status, body = read_answer(sock)
    sock.close()
    assert status == 413 and sent < 20_000_000
    assert json.loads(body)["detail"] == "Audio file too large. Maximum size: 4.5MB"


def test_client_leaving_mid_upload_frees_its_place(served):
    assert served.health()["queue"] == 0
    sock = raw_request(served, "POST /api/sync-clone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-gone\r\n"
                               "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 4000000\r\n\r\n",
                       b"--b\r\n" + b"x" * 1000)
    wait_until(lambda: served.health()["queue"] == 1, what="the upload to hold a place")
    sock.close()
    wait_until(lambda: served.health()["queue"] == 0, what="the place to be freed")
    assert "POST /api/sync-clone 499" in served.log()


def test_client_leaving_mid_response_stops_the_work(served, home, gate):
    calls = home / "calls"
    calls.unlink(missing_ok=True)
    text = " ".join(f"Sentence number {n} is here." for n in range(40))  # 40 chunks
    gate.close()
    body = json.dumps({"model": "m", "input": text, "voice": "ana", "response_format": "pcm", "stream": True})
    sock = raw_request(served, "POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-gone\r\n"
                               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n", body.encode())
    wait_until(lambda: served.health()["running"] == 1, what="the speech to start")
    sock.close()
    gate.open()
    wait_until(lambda: served.health()["running"] == 0, what="the slot to be freed")
    made = calls.read_text().count("Sentence number") if calls.exists() else 0
    assert made < 40  # stopped after the chunk in the engine, not at the end of the text
    assert clone(served, "key-gone").status_code == 200


def test_stream_sends_audio_before_the_rest_is_made(home, ana):
    env = tone_env(home, VOICECLONE_TEST_HOLD="WAIT", VOICECLONE_TEST_GATE=str(home / "gate-stream"))
    server = Server(home, "--no-cache", env=env)
    gate = home / "gate-stream"
    gate.touch()
    try:
        text = "These first words come at once, alone. Then WAIT for the gate to open."
        body = json.dumps({"model": "m", "input": text, "voice": "ana", "response_format": "wav", "stream": True})
        sock = raw_request(server, "POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n", body.encode())
        first = b""
        while b"RIFF" not in first:  # the WAV's start arrives while the second chunk is held
            first += sock.recv(65536)
        gate.unlink()
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        sock.close()
        data = first + rest
        head, _, chunked = data.partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
    finally:
        gate.unlink(missing_ok=True)
        server.stop()


TEXT = "One sentence to speak. And a second one after it."  # 2 chunks of the tone engine


@pytest.fixture
def key() -> str:
    return next(SPARE_KEYS)


def speech(served, key: str, **fields) -> requests.Response:
    return requests.post(served.url + "/v1/audio/speech", headers=auth(key),
                         json={"model": "anything", "input": TEXT, "voice": "ana", **fields})


@pytest.mark.parametrize("fmt, media_type, container", [
    ("mp3", "audio/mpeg", "mp3"), ("opus", "audio/ogg", "ogg"), ("aac", "audio/aac", "aac"),
    ("flac", "audio/flac", "flac"), ("wav", "audio/wav", "wav"),
])
def test_speech_formats_decode_to_the_whole_text(served, key, fmt, media_type, container):
    import av

    answer = speech(served, key, response_format=fmt)
    assert answer.status_code == 200 and answer.headers["content-type"] == media_type
    with av.open(io.BytesIO(answer.content)) as audio:
        assert audio.format.name.split(",")[0] == container
        frames = list(audio.decode(audio=0))
    seconds = sum(f.samples for f in frames) / frames[0].sample_rate
    assert abs(seconds - 0.01 * len(TEXT)) < 0.15  # the tone engine: 10 ms a character, joined


def test_speech_pcm_says_its_rate(served, key):
    answer = speech(served, key, response_format="pcm", speed=2.0)
    assert answer.headers["x-sample-rate"] == "16000"
    assert abs(len(answer.content) / 2 / 16000 - 0.005 * len(TEXT)) < 0.1


def test_speech_sse_stream(served, key):
    answer = speech(served, key, response_format="wav", stream_format="sse")
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    wav = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert wav[:4] == b"RIFF" and len(wav) > 44 + 2 * 16000 * 0.3


@pytest.mark.parametrize("fields, message", [
    ({"response_format": "ogg"}, "response_format must be one of mp3, opus, aac, flac, wav, pcm"),
    ({"speed": 4.0}, "speed must be between 0.5 and 2 with this server"),
    ({"input": ""}, "input is empty"),
    ({"input": "x" * 4097}, "at most 4096 are accepted"),
    ({"voice": None}, "voice is required"),
])
def test_speech_refusals(served, key, fields, message):
    answer = speech(served, key, **fields)
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_sighup_reloads_the_keys(served):
    assert requests.get(served.url + "/v1/models", headers=auth("key-new")).status_code == 401
    original = served.keys.read_text()
    served.keys.write_text(original + "key-new\n")
    try:
        served.signal(signal.SIGHUP)
        wait_until(lambda: requests.get(served.url + "/v1/models", headers=auth("key-new")).status_code == 200,
                   what="the new key to work")
        served.keys.write_text("")  # a broken file is not loaded: the keys in force stay
        served.signal(signal.SIGHUP)
        wait_until(lambda: "keys not reloaded" in served.log(), what="the refusal")
        assert requests.get(served.url + "/v1/models", headers=auth("key-new")).status_code == 200
        assert served.proc.poll() is None
    finally:
        served.keys.write_text(original)


def test_access_log_never_holds_keys_or_text(served):
    secret_text = "Zebra quartz marmalade."
    assert clone(served, "key-log", text=secret_text).status_code == 200
    requests.get(served.url + "/v1/models?api_key=key-log", headers=auth("key-log"))
    log = served.log()
    assert "POST /api/sync-clone 200" in log and "GET /v1/models 200" in log
    for secret in KEYS + SPARE_KEYS_LIST + ["Zebra", "quartz", "api_key="]:
        assert secret not in log


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(home):
    gate = home / "gate-term"
    gate.touch()
    server = Server(home, "--no-cache", "--log-format", "json", env=tone_env(home, VOICECLONE_TEST_GATE=str(gate)))
    try:
        thread, out = in_thread(clone, server, "any", "Finish me please.")
        wait_until(lambda: server.health()["running"] == 1, what="the request to run")
        server.signal(signal.SIGTERM)
        wait_until(lambda: _refused(server), what="the server to stop accepting")
        gate.unlink()
        thread.join(30)
        assert out[0].status_code == 200
        audio, rate = read_audio(out[0].content)
        assert len(audio) / rate > 0.1
        assert server.proc.wait(timeout=30) == 0
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        assert {"method": "POST", "path": "/api/sync-clone", "status": 200}.items() <= lines[-2].items() \
            or any(l.get("path") == "/api/sync-clone" and l.get("status") == 200 for l in lines)
    finally:
        gate.unlink(missing_ok=True)
        server.stop()


def test_workers_processes_serve_and_stop_with_0(home):
    server = Server(home, "--workers", "2", "--no-cache", env=tone_env(home, VOICECLONE_TEST_GATE=str(home / "no-gate")))
    try:
        assert "with 2 workers" in server.log()
        answer = clone(server, "any", "Hello from a worker process.")
        assert answer.status_code == 200 and answer.content[:4] == b"RIFF"
        assert server.health()["process"] != server.proc.pid  # answered by a worker, not the supervisor
        server.signal(signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0
    finally:
        server.stop()


def _refused(server) -> bool:
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        return False
    except OSError:
        return True


def test_public_address_without_keys_is_refused(tmp_path):
    run = subprocess.run([BIN, "serve", "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "refusing to serve on 0.0.0.0 without --keys" in run.stderr


def test_missing_or_empty_keys_file_is_refused(tmp_path):
    empty = tmp_path / "keys.txt"
    empty.write_text("# nothing yet\n")
    for keys, message in ((tmp_path / "absent.txt", "keys file not found"), (empty, "holds no keys")):
        run = subprocess.run([BIN, "serve", "--port", "0", "--keys", keys], capture_output=True, text=True, timeout=60)
        assert run.returncode == 3 and message in run.stderr


def read_one_answer(sock: socket.socket) -> tuple[int, dict, bytes]:
    """One HTTP answer read by its Content-Length (the connection may stay open)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server hung up before answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the server hung up in the middle of its answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("key, size, status", [
    ("key-cap", 7_700_000, 413),  # a sample too large, sent whole, as `requests` does
    ("nope", 4_000_000, 401),  # a sample of allowed size with a wrong key
])
def test_a_client_that_sends_its_whole_body_still_reads_the_refusal(served, key, size, status):
    """The refusal is made before the body is read, but the body is let in (and thrown away):
    a client still uploading gets the answer, not a reset connection, and may ask again on it."""
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    head = ("POST /api/sync-clone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {size}\r\n\r\n")
    sock.sendall(head.encode() + b"x" * size)  # a reset connection fails here or below
    answer, headers, body = read_one_answer(sock)
    assert answer == status and "detail" in json.loads(body)
    assert headers.get("connection") != "close"
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection, once more
    again, _, _ = read_one_answer(sock)
    sock.close()
    assert again == 200
