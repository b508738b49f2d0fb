"""A book killed at any moment resumes: no chunk is sent twice, and the file is the same."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.fakeserver import Fault
from tests.test_entrypoint import env_for

REPO = Path(__file__).resolve().parents[1]
SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.test_book import make_book
    from voiceclone_cli.book.job import BookOptions, run_book
    import voiceclone_cli as vc

    out, sample = Path(sys.argv[1]), Path(sys.argv[2])
    engine = vc.get_engine("remote", max_workers=2)
    book = make_book(chapters=4, sentences=30)
    run_book(book, book.selected(), engine, engine.prepare_voice(vc.prepare_sample(sample)),
             BookOptions(output=out, format_name=out.suffix[1:], jobs=2))
""")


def run_book_process(out: Path, sample: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(sample)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cached(cache: Path) -> list[Path]:
    return list(cache.glob("responses/*/*.vcr"))


@pytest.mark.parametrize("suffix", [".wav", ".m4b"])
def test_a_killed_book_resumes_without_sending_a_chunk_twice(server, sample_wav, tmp_path, suffix):
    server.state.rate = 8000  # small answers: the test is about which chunks, not their size
    answered_before_kill = 5  # chapter 1 (its title and 2 chunks) and 2 of chapter 2's 4
    server.fail(*[Fault("slow", delay=0)] * answered_before_kill, *[Fault("slow", delay=60)] * 40)
    cache = tmp_path / "cache"
    env = env_for(server, VOICECLONE_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    out = tmp_path / f"book{suffix}"
    work = tmp_path / f".book{suffix}.voiceclone-book"
    proc = run_book_process(out, sample_wav, env)
    try:
        deadline = time.monotonic() + 60  # a hang detector, not a pacing sleep
        while not (work / "0001.json").exists() or len(cached(cache)) < answered_before_kill:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the first chapter was never finished"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not out.exists() and (work / "0001.wav").exists()
    answered = {r.fields["text"] for r in server.requests[:answered_before_kill]}

    with server.lock:
        server.state.faults.clear()
    server.requests.clear()
    rerun = run_book_process(out, sample_wav, env)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()
    resent = [r.fields["text"] for r in server.requests]
    assert not answered & set(resent)
    assert not work.exists()

    server.requests.clear()
    reference = tmp_path / f"reference{suffix}"
    fresh = env_for(server, VOICECLONE_CACHE_DIR=str(tmp_path / "fresh-cache"), PYTHONPATH=str(REPO))
    assert run_book_process(reference, sample_wav, fresh).wait(timeout=120) == 0
    assert len(resent) == len(server.requests) - answered_before_kill
    assert out.read_bytes() == reference.read_bytes()
