"""Running ``voiceclone serve`` as a real process for the serve tests, and a fast test engine.

``ToneEngine`` is selected with ``VOICECLONE_SERVE_TEST_ENGINE=tests.serve_support:ToneEngine``
(the command's documented test hook). It validates samples with the real ``prepare_sample``
and answers with a tone whose length follows the text, instantly, unless the gate is closed:
while the file ``$VOICECLONE_TEST_GATE`` exists every ``synthesize`` call waits (only those
whose text holds ``$VOICECLONE_TEST_HOLD``, when that is set), so a test can hold requests in flight for as
long as it needs and release them. Text containing "explode" makes it fail. Each call appends
a line to ``$VOICECLONE_TEST_CALLS`` when set, so a test can count the work done.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from tests.conftest import BIN, REPO
TONE_ENGINE = "tests.serve_support:ToneEngine"


class ToneEngine:
    name = "tone"
    max_chunk_chars = 40
    first_chunk_chars = None
    cpu_bound = False
    endpoint = ""
    version = "tone/1"

    def __init__(self) -> None:
        self.max_workers = int(os.environ.get("VOICECLONE_TEST_WORKERS", "1"))
        self.gate = os.environ.get("VOICECLONE_TEST_GATE")
        self.calls = 0
        self.held = os.environ.get("VOICECLONE_TEST_HOLD", "")
        self._lock = threading.Lock()

    sample_rate = 24000

    def prepare_voice(self, sample):
        return sample

    def synthesize(self, text, voice, *, speed=1.0, pitch=0.0):
        from voiceclone_cli.audio.wav import Audio

        if "explode" in text:
            raise RuntimeError("the tone engine exploded")
        while self.gate and os.path.exists(self.gate) and self.held in text:
            time.sleep(0.01)
        with self._lock:
            self.calls += 1
            if os.environ.get("VOICECLONE_TEST_CALLS"):
                with open(os.environ["VOICECLONE_TEST_CALLS"], "a") as calls:
                    calls.write(text.replace("\n", " ") + "\n")
        rate = 16000
        n = int(rate * 0.01 * len(text) / speed)
        t = np.arange(n, dtype=np.float32) / rate
        return Audio((0.3 * np.sin(2 * np.pi * 220 * (1 + pitch / 2) * t)).astype(np.float32), rate)

    def stats(self):
        return {"requests": self.calls, "retries": 0}

    def close(self):
        pass


class Server:
    """A ``voiceclone serve`` process; its stderr (start line, access log) goes to a file."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = tmp / f"serve-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        full_env.update(env or {})
        self.proc = subprocess.Popen([BIN, "serve", "--port", "0", *args], stdout=subprocess.DEVNULL,
                                     stderr=self._log, env=full_env, cwd=tmp)
        self.url = self._wait_for_url()
        self._wait_ready()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for_url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"on (http://[0-9.]+:\d+)", self.log())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}: {self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"serve did not start: {self.log()}")

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if json.load(response)["ready"]:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready: {self.log()}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
            return json.load(response)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    """Poll for a state another process reaches (not a sleep that hopes it got there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
