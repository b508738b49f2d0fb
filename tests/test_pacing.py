"""``RateGate``'s pace: the shared 429 pause plus a spacing between request starts."""

from __future__ import annotations

import pytest

from voiceclone_cli.engines.remote.retry import MIN_SPACING, NARROW, WIDEN, RateGate


def test_without_429s_it_never_waits():
    slept = []
    gate = RateGate(sleep=slept.append)
    for _ in range(50):
        gate.wait()
    assert slept == [] and gate.spacing == 0.0


def test_after_a_429_starts_are_spaced_and_the_spacing_narrows():
    slept = []
    gate = RateGate(sleep=slept.append)  # the pace's sleeps are recorded, not slept
    gate.hold(0.01)
    assert gate.spacing == pytest.approx(MIN_SPACING)
    for _ in range(3):
        gate.wait()  # the first start waits out the pause for real
    # Nothing really sleeps, so each start is one spacing further off than the one before.
    assert slept[0] == pytest.approx(MIN_SPACING * NARROW, rel=0.2)
    assert slept[1] == pytest.approx(MIN_SPACING * NARROW * (1 + NARROW), rel=0.2)
    assert gate.spacing == pytest.approx(MIN_SPACING * NARROW**3)


def test_a_crowd_of_429s_widens_the_spacing_once():
    gate = RateGate(sleep=lambda s: None)
    for _ in range(5):  # five workers' requests were out together and all got a 429
        gate.hold(0.01)
    assert gate.spacing == pytest.approx(MIN_SPACING)
    gate.wait()
    gate.hold(0.01)  # a new pause
    assert gate.spacing == pytest.approx(MIN_SPACING * NARROW * WIDEN)


def test_retry_after_hints_the_spacing_but_at_most_doubles_it():
    gate = RateGate(sleep=lambda s: None)
    gate.hold(0.01)
    gate.wait()
    spacing = gate.spacing
    gate.hold(0.03)
    assert gate.spacing == pytest.approx(min(0.03, 2 * spacing + MIN_SPACING))
    gate.wait()
    spacing = gate.spacing
    gate.hold(30.0)  # "come back in half a minute": the spacing only doubles
    assert gate.spacing == pytest.approx(2 * spacing + MIN_SPACING)
    assert gate.remaining() > 29  # while the pause itself is the full Retry-After
