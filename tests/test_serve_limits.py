"""The server's per-key token bucket, without a server: bursts, refill, and slow rates."""

from __future__ import annotations

import pytest

from voiceclone_cli.errors import UsageError
from voiceclone_cli.serve import limits
from voiceclone_cli.serve.limits import RateLimiter, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(limits.time, "monotonic", clock)
    return clock


def test_a_burst_of_the_rate_goes_then_the_next_waits(clock):
    bucket = RateLimiter(parse_rate("3/min"))
    assert [bucket.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("k") == pytest.approx(20.0)
    assert bucket.take("other key") == 0.0  # per key
    clock.now += 20
    assert bucket.take("k") == 0.0


def test_a_rate_under_one_a_second_still_lets_requests_through(clock):
    bucket = RateLimiter(parse_rate("0.5/s"))
    assert bucket.take("k") == 0.0
    assert bucket.take("k") == pytest.approx(2.0)
    clock.now += 2
    assert bucket.take("k") == 0.0


@pytest.mark.parametrize("text", ["0/min", "-1/s", "fast", "3/fortnight"])
def test_a_bad_rate_is_refused(text):
    with pytest.raises(UsageError, match="invalid --rate"):
        parse_rate(text)
