"""The book's one loudness gain, chosen so that chapters encoded early rarely need it again.

The gain that brings a whole book to its target is only known once the last chapter is
measured, but m4b and ``-d`` chapters are encoded as they are made (``book.pieces``), at the
gain the chapters so far call for. Each time that guess moves, every piece encoded at the old
one must be encoded again. So the guess only moves when it has to:

- A gain is *acceptable* for some audio when the true peak stays under the ceiling (always,
  strictly) and the loudness lands within ``TOLERANCE_LU`` of the target, or, when the
  ceiling holds the gain back, within ``TOLERANCE_LU`` below what the ceiling allows.
- The guess is kept while it stays acceptable for the chapters so far. When it does not, the
  new guess is the best gain less ``PEAK_HEADROOM_DB`` when the ceiling is what limits it,
  since a book's highest peak only grows as chapters are added, rounded down to
  ``STEP_DB``.
- The book's gain is the same rule applied to the whole book: the last guess if it is still
  acceptable, else a new one.

``TOLERANCE_LU`` is 0.5, the tolerance EBU R 128 gives for programme loudness. Everything here
is a pure function of the chapters' measurements in book order, so a resumed run makes the same
guesses and finds the pieces it encoded before.
"""

from __future__ import annotations

import math

from voiceclone_cli.audio.loudness import Loudness

CEILING_DBTP = -1.0
TOLERANCE_LU = 0.5
PEAK_HEADROOM_DB = 0.4
STEP_DB = 0.1


def best_gain(measured: Loudness, target: float) -> float:
    """The gain that reaches ``target``, or as near as the ceiling allows."""
    if measured.integrated_lufs is None:
        return 0.0
    return min(target - measured.integrated_lufs, CEILING_DBTP - measured.true_peak_dbtp)


def acceptable(gain: float, measured: Loudness, target: float) -> bool:
    if measured.integrated_lufs is None:  # silence: nothing to bring anywhere
        return gain == 0.0
    ceiling = CEILING_DBTP - measured.true_peak_dbtp
    loudest = min(ceiling, target - measured.integrated_lufs + TOLERANCE_LU)
    return best_gain(measured, target) - TOLERANCE_LU - 1e-9 <= gain <= loudest + 1e-9


def fresh_guess(measured: Loudness, target: float) -> float:
    if measured.integrated_lufs is None:
        return 0.0
    ceiling = CEILING_DBTP - measured.true_peak_dbtp
    gain = min(target - measured.integrated_lufs, ceiling - PEAK_HEADROOM_DB)
    if gain < best_gain(measured, target) - TOLERANCE_LU:  # cannot happen with these constants
        gain = best_gain(measured, target)
    return math.floor(round(gain / STEP_DB, 6)) * STEP_DB


class GainPlan:
    """Feed the loudness of the first chapters, then of more, with ``gain_for``."""

    def __init__(self, target: float | None) -> None:
        self.target = target
        self.current: float | None = None

    def gain_for(self, measured: Loudness | None) -> float:
        if self.target is None or measured is None:
            return 0.0
        if self.current is None or not acceptable(self.current, measured, self.target):
            self.current = round(fresh_guess(measured, self.target), 6)
        return self.current
