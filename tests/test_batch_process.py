"""``voiceclone batch`` as real processes: killed, interrupted, resumed; and offline."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import read_audio
from tests.test_batch_cli import run_batch, spoken_seconds, summary_of, texts_sent, wavs, write_lines
from tests.test_entrypoint import BIN, env_for
from voiceclone_cli.output.atomic import temp_path_for
from voiceclone_cli.batch.manifest import MANIFEST_NAME

LINES = [f"Line number {i} of the script." for i in range(1, 25)]


def start_batch(server, script: Path, sample: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [BIN, "batch", script, "-s", sample, "-d", out, "-j", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(server),
    )


def wait_for_requests(server, count: int, proc: subprocess.Popen) -> None:
    """Synchronise with the server: return once ``count`` requests have arrived."""
    deadline = time.monotonic() + 30
    while len(server.requests) < count and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert len(server.requests) >= count, proc.stderr.read().decode() if proc.poll() is not None else "too slow"


def recorded_outputs(out: Path) -> set[str]:
    lines = (out / MANIFEST_NAME).read_bytes().splitlines(keepends=True)
    return {json.loads(line)["output"] for line in lines if line.endswith(b"\n")}


def assert_every_output_once_and_valid(out: Path) -> None:
    assert wavs(out) == [f"{n:02d}.wav" for n in range(1, len(LINES) + 1)]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [MANIFEST_NAME]  # no temps
    for n, text in enumerate(LINES, start=1):
        x, rate = read_audio(out / f"{n:02d}.wav")
        assert len(x) / rate == pytest.approx(spoken_seconds(text), abs=0.03)
    assert recorded_outputs(out) == set(wavs(out))


def test_resume_after_kill_9(cli, server, sample_wav, tmp_path, monkeypatch):
    server.state.latency = 0.1
    script = write_lines(tmp_path / "s.txt", LINES)
    out = tmp_path / "out"
    proc = start_batch(server, script, sample_wav, out)
    wait_for_requests(server, 8, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done_before = recorded_outputs(out)
    assert 0 < len(done_before) < len(LINES)
    temp_path_for(out / "24.wav", pid=proc.pid).write_bytes(b"half")  # as if killed while writing it

    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)
    monkeypatch.setenv("VOICECLONE_API_KEY", env_for(server)["VOICECLONE_API_KEY"])
    server.state.latency = 0.0
    server.requests.clear()
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert r.code == 0, r.stderr
    assert summary_of(r)["skipped"] == len(done_before)
    redone = {f"{LINES.index(t) + 1:02d}.wav" for t in texts_sent(server)}
    assert redone == set(wavs(out)) - done_before  # exactly the lines not recorded as done
    assert_every_output_once_and_valid(out)


def test_ctrl_c_exits_130_keeps_finished_files_and_resumes(cli, server, sample_wav, tmp_path, monkeypatch):
    server.state.latency = 0.3
    script = write_lines(tmp_path / "s.txt", LINES)
    out = tmp_path / "out"
    proc = start_batch(server, script, sample_wav, out, "--json")
    wait_for_requests(server, 5, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130, stderr
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    summary = json.loads(stdout)
    assert summary["status"] == "interrupted" and summary["not_attempted"] > 0
    finished = recorded_outputs(out)
    assert len(finished) == summary["done"] >= 2
    for name in wavs(out):  # every file there is whole, and recorded
        assert name in finished and sf.info(out / name).frames > 0

    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)
    monkeypatch.setenv("VOICECLONE_API_KEY", env_for(server)["VOICECLONE_API_KEY"])
    server.state.latency = 0.0
    r = run_batch(cli, script, "-s", sample_wav, "-d", out)
    assert r.code == 0, r.stderr
    assert_every_output_once_and_valid(out)


def test_local_batch(cli, sample_wav, tmp_path):
    pytest.importorskip("piper", reason="the local extra is not installed: pip install -e '.[local,test]'")
    script = write_lines(tmp_path / "s.txt", ["Good morning.", "See you soon."])
    out = tmp_path / "out"
    r = run_batch(cli, script, "--local", "-s", sample_wav, "-d", out, "-j", "8", "--json")
    assert r.code == 0, r.stderr
    summary = summary_of(r)
    assert summary["engine"] == "local" and summary["done"] == 2 and summary["requests"] == 0
    assert summary["jobs"] <= 2
    assert f"running {summary['jobs']} jobs at once, the most the local engine can use (-j 8 asked)" in r.stderr
    for name in ("1.wav", "2.wav"):
        x, rate = read_audio(out / name)
        assert rate == 22050 and 0.5 < len(x) / rate < 3.0
    r = run_batch(cli, script, "--local", "-s", sample_wav, "-d", out, "--json")
    assert summary_of(r)["skipped"] == 2  # the local engine's lines resume too
