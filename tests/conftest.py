"""Shared fixtures: an isolated environment, the loopback API server, real voice samples."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "voiceclone"  # the installed console script


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_jsonl(path: Path, objects: list[dict]) -> Path:
    import json

    return write_lines(path, [json.dumps(o) for o in objects])


def texts_sent(server) -> list[str]:
    """The ``text`` of each request the loopback server took, in order."""
    return [r.fields.get("text") for r in server.requests]


def _find_voices() -> Path | None:
    candidates = [os.environ.get("VOICECLONE_TEST_VOICES"), REPO.parent / "shared" / "voices", "/work/shared/voices"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "MANIFEST.tsv").is_file():
            return Path(candidate)
    return None


VOICES = _find_voices()


def voice(relpath: str) -> Path:
    """A recording from ../shared/voices (the real speech the brief provides for tests)."""
    if VOICES is None:
        pytest.skip("../shared/voices not found (set VOICECLONE_TEST_VOICES)")
    return VOICES / relpath


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Never touch the user's real config or cache; no key unless a test sets one."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("VOICECLONE_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("VOICECLONE_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("VOICECLONE_DATA_DIR", str(home / "data"))
    for name in ("VOICECLONE_API_KEY", "VOICECLONE_ENDPOINT", "VOICECLONE_TIMEOUT",
                 "VOICECLONE_RETRIES", "VOICECLONE_DEBUG", "VOICECLONE_PLAYER",
                 "VOICECLONE_CACHE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def server():
    srv = FakeSyncCloneServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def api_env(server, monkeypatch):
    """Point the CLI at the loopback server with a valid key."""
    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)
    monkeypatch.setenv("VOICECLONE_API_KEY", VALID_KEY)
    return server


@pytest.fixture
def sample_wav() -> Path:
    return voice("p225/p225_023.wav")


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def run_cli(args: list[str], stdin: bytes = b"", *, stdin_tty: bool = False, stdout_tty: bool = False,
            stderr_tty: bool = False) -> Result:
    """Run ``voiceclone`` in-process through the real ``main`` funnel, in an injected environment
    (byte buffers for the streams, and whether each should look like a terminal)."""
    from voiceclone_cli.cli import main
    from voiceclone_cli.commands.environment import Environment

    env = Environment(io.BytesIO(stdin), io.BytesIO(), io.BytesIO(), stdin_tty, stdout_tty, stderr_tty)
    code = main([str(a) for a in args], environment=env)
    return Result(code, env.stdout.getvalue(), env.stderr.getvalue().decode("utf-8", "replace"))


@pytest.fixture
def cli():
    return run_cli


def dead_pid() -> int:
    """A PID that no process has right now: a child that has exited and been reaped."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def write_wav(path: Path, samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples, rate, subtype=subtype)
    return path


def read_audio(data_or_path) -> tuple[np.ndarray, int]:
    if isinstance(data_or_path, (bytes, bytearray)):
        data_or_path = io.BytesIO(data_or_path)
    samples, rate = sf.read(data_or_path, dtype="float32")
    return samples, rate


class RecordingSink:
    """A sink that keeps what it is given, for tests of the pipeline below the output files."""

    def __init__(self, on_write=None) -> None:
        self.parts: list[np.ndarray] = []
        self.rate = None
        self.closed = False
        self.on_write = on_write

    def rate_for(self, rate: int) -> int:
        return rate

    def open(self, rate: int) -> None:
        self.rate = rate

    def write(self, samples) -> None:
        if self.on_write and len(samples):
            self.on_write()
        self.parts.append(np.asarray(samples))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        pass

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0)
