"""The HTTP client against the loopback contract server, through the real socket."""

import random
import time
from email.utils import formatdate

import pytest

from tests.fakeserver import BASIC_PLAN_KEY, VALID_KEY, Fault
from voiceclone_cli.engines.remote.client import SyncCloneClient, error_detail
from voiceclone_cli.errors import AuthError, InputError, RateLimitedError, ServerError
from voiceclone_cli.engines.remote.retry import RateGate, RetryPolicy, parse_retry_after
from voiceclone_cli.prepare.sample import prepare_sample


@pytest.fixture
def prepared(sample_wav):
    return prepare_sample(sample_wav)


def make_client(server, key=VALID_KEY, retries=4, sleeps=None, **kw):
    sleeps = [] if sleeps is None else sleeps
    return SyncCloneClient(
        server.url + "/api/sync-clone", key, policy=RetryPolicy(retries=retries),
        sleep=sleeps.append, rng=random.Random(7), **kw,
    )


def test_success_returns_the_servers_audio(server, prepared):
    audio = make_client(server).synthesize(prepared, "Hello there")
    assert audio.rate == 24000
    # the fake speaks 20 ms per character plus 0.3 s of silence each side
    assert audio.seconds == pytest.approx(0.6 + len("Hello there") * 0.02, abs=0.01)
    (request,) = server.requests
    assert request.headers["Authorization"] == f"Bearer {VALID_KEY}"
    assert request.fields == {"text": "Hello there"}  # defaults are not sent
    assert request.filename == "p225_023.wav" and request.file_bytes == len(prepared.data)


def test_speed_and_pitch_are_sent_when_not_default(server, prepared):
    slow = make_client(server).synthesize(prepared, "x" * 50, speed=0.5, pitch=0.25)
    assert server.requests[-1].fields == {"text": "x" * 50, "speed": "0.5", "pitch": "0.25"}
    normal = make_client(server).synthesize(prepared, "x" * 50)
    assert slow.seconds - 0.6 == pytest.approx(2 * (normal.seconds - 0.6), abs=0.01)


@pytest.mark.parametrize("fault", ["429", "500", "503", "drop", "truncate", "bad_wav", "content_type"])
def test_transient_failures_are_retried(server, prepared, fault):
    server.fail(fault)
    sleeps = []
    client = make_client(server, sleeps=sleeps, gate=RateGate())
    audio = client.synthesize(prepared, "Hello")
    assert audio.seconds > 0
    assert len(server.requests) == 2
    assert client.stats.requests == 2 and client.stats.retries == 1


def test_backoff_is_exponential_with_full_jitter(server, prepared):
    server.fail("500", "500", "500", "500")
    sleeps = []
    make_client(server, sleeps=sleeps).synthesize(prepared, "Hello")
    assert len(sleeps) == 4
    policy = RetryPolicy()
    for attempt, delay in enumerate(sleeps):
        assert 0 <= delay <= policy.base_seconds * 2**attempt
    assert len(set(sleeps)) == 4  # jittered, not fixed


def test_gives_up_after_the_retry_budget(server, prepared):
    server.fail("503", "503", "503")
    with pytest.raises(ServerError, match="503"):
        make_client(server, retries=2).synthesize(prepared, "Hello")
    assert len(server.requests) == 3


def test_rate_limit_after_retries_is_its_own_error(server, prepared):
    server.fail(Fault("status", status=429, retry_after="0"), Fault("status", status=429, retry_after="0"))
    with pytest.raises(RateLimitedError, match="Rate limit exceeded"):
        make_client(server, retries=1).synthesize(prepared, "Hello")


@pytest.mark.parametrize("header", ["1", "date"])
def test_retry_after_is_honoured_in_seconds_and_as_http_date(server, prepared, header):
    value = "1" if header == "1" else formatdate(time.time() + 2.5, usegmt=True)
    server.fail(Fault("status", status=429, retry_after=value))
    make_client(server).synthesize(prepared, "Hello")
    first, second = server.requests
    # HTTP dates have 1 s resolution: a date 2.5 s ahead still means well over 1 s of waiting
    assert second.time - first.time >= 0.95


def test_retry_after_on_503_replaces_backoff(server, prepared):
    server.fail(Fault("status", status=503, retry_after="0"))
    sleeps = []
    make_client(server, sleeps=sleeps).synthesize(prepared, "Hello")
    assert sleeps == [0.0]


def test_absurd_retry_after_is_not_waited_for(server, prepared):
    server.fail(Fault("status", status=429, retry_after="86400"))
    with pytest.raises(RateLimitedError, match="wait 86400 s"):
        make_client(server).synthesize(prepared, "Hello")
    assert len(server.requests) == 1


def test_shared_gate_pauses_other_workers(server, prepared):
    gate = RateGate()
    server.fail(Fault("status", status=429, retry_after="1"))
    a, b = make_client(server, gate=gate), make_client(server, gate=gate)
    a.synthesize(prepared, "first")
    paused_at = server.requests[0].time
    b.synthesize(prepared, "second")  # another worker, same gate: must wait out the pause
    assert server.requests[1].time - paused_at >= 0.95


@pytest.mark.parametrize(
    "key, error, detail",
    [("wrong-key-000000", AuthError, "Invalid or missing API key"),
     (BASIC_PLAN_KEY, AuthError, "Professional or Unlimited subscription required")],
)
def test_auth_failures_are_not_retried(server, prepared, key, error, detail):
    with pytest.raises(error, match=detail):
        make_client(server, key=key).synthesize(prepared, "Hello")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "text, status, detail",
    [("x" * 1001, 422, "Text too long"), ("   ", 422, "must not be empty")],
)
def test_input_refusals_are_not_retried_and_show_detail(server, prepared, text, status, detail):
    with pytest.raises(InputError, match=detail) as info:
        make_client(server).synthesize(prepared, text)
    assert str(status) in info.value.message
    assert len(server.requests) == 1


def test_400_and_413_are_not_retried(server, prepared):
    for status in (400, 413):
        server.fail(Fault("status", status=status))
        with pytest.raises(InputError, match=str(status)):
            make_client(server).synthesize(prepared, "Hello")
    assert len(server.requests) == 2


def test_wrong_path_suggests_checking_the_endpoint(server, prepared):
    client = SyncCloneClient(server.url + "/wrong", VALID_KEY)
    with pytest.raises(ServerError, match="no sync-clone API") as info:
        client.synthesize(prepared, "Hello")
    assert "--endpoint" in info.value.hint


def test_slow_response_times_out_and_is_retried(server, prepared):
    server.fail(Fault("slow", delay=1.5))
    sleeps = []
    client = make_client(server, sleeps=sleeps, timeout=0.5)
    assert client.synthesize(prepared, "Hello").seconds > 0
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_timeout_after_retries_names_the_flag(server, prepared):
    server.fail(Fault("slow", delay=1.0))
    with pytest.raises(ServerError, match="within 0.3 s") as info:
        make_client(server, retries=0, timeout=0.3).synthesize(prepared, "Hello")
    assert "--timeout" in info.value.hint


def test_unreachable_host(prepared):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = SyncCloneClient(f"http://127.0.0.1:{port}/api/sync-clone", VALID_KEY,
                             policy=RetryPolicy(retries=1), sleep=lambda s: None)
    with pytest.raises(ServerError, match="cannot connect"):
        client.synthesize(prepared, "Hello")
    assert client.stats.requests == 2


def test_oversized_response_is_broken(server, prepared):
    client = make_client(server, retries=0, max_response_bytes=1000)
    with pytest.raises(ServerError, match="oversized"):
        client.synthesize(prepared, "Hello")


def test_repr_hides_the_key(server):
    assert VALID_KEY not in repr(make_client(server))


def test_error_detail_shapes():
    assert error_detail(b'{"detail": "nope"}', "application/json") == "nope"
    assert error_detail(b'{"detail": [{"msg": "field required"}, {"msg": "bad"}]}', "application/json") == "field required; bad"
    assert error_detail(b"plain\n  text", "text/plain") == "plain text"
    assert error_detail(b"<html>x</html>", "text/html") == ""


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0 ") == 0.0  # "retry now" said in so many words is believed
    for malformed in ("-5", "1e309", "inf", "nan", "1_000", "soon", "", None):
        assert parse_retry_after(malformed) is None, malformed
    assert parse_retry_after("9" * 400) == float("inf")
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) is None  # clock skew, not advice
    naive = formatdate(now + 30, usegmt=True).replace("GMT", "-0000")  # zone-less: still GMT
    assert parse_retry_after(naive, now=now) == pytest.approx(30, abs=1)


def test_requests_in_flight_never_pass_the_bound_however_many_threads_call(server, prepared):
    """Six threads share a client bounded to two requests: a third request only starts once
    one of the first two has been answered (each takes the server's 0.2 s)."""
    from concurrent.futures import ThreadPoolExecutor

    server.state.latency = 0.2
    client = make_client(server, max_in_flight=2)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: client.synthesize(prepared, f"line {n}"), range(6)))
    arrived = sorted(request.time for request in server.requests)
    assert len(arrived) == 6
    assert min(later - earlier for earlier, later in zip(arrived, arrived[2:])) >= 0.19


def test_an_answer_being_downloaded_does_not_hold_a_slot(server, prepared):
    """With one slot, a second request goes out while the first answer's body is still coming
    in (here it never ends: one byte every 50 ms until the first attempt's deadline)."""
    import threading

    server.fail(Fault("drip", delay=0.05))
    client = make_client(server, retries=0, max_in_flight=1, timeout=2.0, max_response_bytes=200_000_000)
    first_ended = []

    def first():
        with pytest.raises(ServerError):
            client.synthesize(prepared, "A slow answer")
        first_ended.append(time.monotonic())

    downloading = threading.Thread(target=first, daemon=True)
    downloading.start()
    deadline = time.monotonic() + 30  # a hang detector, not a pacing sleep
    while not server.requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    audio = client.synthesize(prepared, "Meanwhile")
    downloading.join(30)
    assert audio.seconds > 0 and first_ended
    second = [r for r in server.requests if r.fields.get("text") == "Meanwhile"][0]
    assert second.time < first_ended[0] - 0.5  # it did not wait for the first body's end


def test_a_failed_request_gives_its_slot_back(server, prepared):
    client = make_client(server, retries=0, max_in_flight=1)
    server.fail("500")
    with pytest.raises(ServerError):
        client.synthesize(prepared, "Hello")
    import threading

    answered = []
    second = threading.Thread(target=lambda: answered.append(client.synthesize(prepared, "Hello again")),
                              daemon=True)
    second.start()
    second.join(30)  # a slot kept by the failure would block it for ever
    assert answered and answered[0].seconds > 0


def test_engine_threads_add_overlap_only_where_the_engine_bounds_its_requests():
    from types import SimpleNamespace

    from voiceclone_cli.engines.base import threads_for

    remote = SimpleNamespace(max_workers=4, overlap_workers=1)
    assert threads_for(remote, 4) == 5
    assert threads_for(SimpleNamespace(max_workers=8, overlap_workers=2), 4) == 4  # its bound is not -j
    assert threads_for(SimpleNamespace(max_workers=2), 4) == 2  # plugins without the attribute


def test_a_429_echoing_another_requests_429_spends_no_retry(server, prepared):
    """Workers that hit a rate limit together each get a 429 for the same overload; only the
    first spends a retry, so a line is not lost because its 429 came second."""
    import threading

    gate = RateGate()
    client = make_client(server, retries=0, gate=gate)
    server.state.latency = 0.3
    server.fail("429")
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(client.synthesize(prepared, "Hello")), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10  # a hang detector: the request is out, not yet answered
    while not server.requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    gate.hold(0.01)  # another worker's 429 comes in meanwhile
    worker.join(30)
    assert outcome and outcome[0].seconds > 0  # waited and retried, with no retries to spend
    assert len(server.requests) == 2


def test_a_429_of_its_own_still_spends_a_retry(server, prepared):
    client = make_client(server, retries=0, gate=RateGate())
    server.fail("429")
    with pytest.raises(RateLimitedError):
        client.synthesize(prepared, "Hello")
