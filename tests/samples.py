"""Sample variants made on the fly from the real recordings (never stored in the repo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import voice

REFERENCE = "p225/p225_023.wav"
LONG_PARTS = ["1688/1688-142285-0000.wav", "1688/1688-142285-0001.wav", "1688/1688-142285-0006.wav",
              "1688/1688-142285-0007.wav"]


def load(rel: str) -> tuple[np.ndarray, int]:
    return sf.read(voice(rel), dtype="float32")


def short(tmp: Path, seconds: float = 3.0) -> Path:
    x, rate = load(REFERENCE)
    path = tmp / "short.wav"
    sf.write(path, x[: int(seconds * rate)], rate)
    return path


def long_speech(tmp: Path) -> tuple[Path, float]:
    """~43 s of one speaker's real speech, clips joined with their natural pauses."""
    parts, rate = [], None
    for rel in LONG_PARTS:
        x, rate = load(rel)
        parts.append(x)
    x = np.concatenate(parts)
    path = tmp / "long.wav"
    sf.write(path, x, rate)
    return path, len(x) / rate


def oversized(tmp: Path) -> Path:
    """20 s of speech as 48 kHz stereo float WAV: inside the time window, ~7.7 MB."""
    import soxr

    x, rate = load("p227/p227_023.wav")
    y = np.tile(soxr.resample(x, rate, 48000), 2)[: 20 * 48000]
    path = tmp / "big.wav"
    sf.write(path, np.stack([y, y], axis=1), 48000, subtype="FLOAT")
    return path


def silent(tmp: Path) -> Path:
    path = tmp / "silent.wav"
    sf.write(path, np.zeros(16000 * 8, dtype=np.float32), 16000)
    return path


def corrupt(tmp: Path) -> Path:
    good = voice(REFERENCE).read_bytes()
    path = tmp / "corrupt.wav"
    path.write_bytes(good[:12] + b"fmt " + b"\xff" * 200)
    return path
