"""The response cache: no chunk is paid for twice (unit tests, CLI runs, a killed run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import BIN, read_audio, texts_sent
from tests.fakeserver import VALID_KEY, Fault
from tests.test_entrypoint import env_for
from voiceclone_cli.engines.cached import CachedEngine
from voiceclone_cli.errors import VoicecloneError
from voiceclone_cli.dirs import cache_dir
from voiceclone_cli.engines.response_cache import (
    ResponseCache,
    cache_size_limit,
    encode_entry,
    response_key,
)
from voiceclone_cli.audio.wav import Audio

# Numbered sentences: no two chunks alike (alike ones would be answered by the cache).
LONG = " ".join(f"Sentence number {i} belongs to a passage long enough for many requests." for i in range(170))
KEY_FIELDS = {"engine": "remote", "endpoint": "http://127.0.0.1:1/api/sync-clone", "sample_sha256": "ab" * 32,
              "text": "Hello there.", "speed": 1.0, "pitch": 0.0, "version": "sync-clone/1"}


def pcm16_audio(n: int = 24000, seed: int = 0) -> Audio:
    """What the API gives: every sample an exact 16-bit value."""
    ints = np.random.default_rng(seed).integers(-32768, 32768, n)
    return Audio(ints.astype(np.float32) / np.float32(32768.0), 24000)


def float_audio(n: int = 24000, seed: int = 0) -> Audio:
    """What the local engine gives: arbitrary float32."""
    return Audio(np.random.default_rng(seed).uniform(-1, 1, n).astype(np.float32), 22050)


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("responses/*/*.vcr"))


# ---- the store itself ---------------------------------------------------------------------


@pytest.mark.parametrize("make, bytes_per_sample", [(pcm16_audio, 2), (float_audio, 4)])
def test_entries_give_back_exactly_the_samples_stored(tmp_path, make, bytes_per_sample):
    cache = ResponseCache(tmp_path)
    audio = make()
    key = response_key(**KEY_FIELDS)
    assert cache.get(key) is None
    cache.put(key, audio)
    back = cache.get(key)
    assert back.rate == audio.rate and back.samples.dtype == np.float32
    assert np.array_equal(back.samples, audio.samples)
    (path,) = entries(tmp_path)
    assert path.parent.name == key[:2]  # sharded
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_size < len(audio.samples) * bytes_per_sample + 100  # 16-bit audio stored as 16 bits
    assert (cache.hits, cache.misses) == (1, 1)


@pytest.mark.parametrize("make", [pcm16_audio, float_audio])
def test_where_sentences_meet_is_kept_with_the_samples(tmp_path, make):
    """The local engine's sentence timing survives a cache hit: a resumed book's subtitles are
    timed as the first run's were."""
    cache = ResponseCache(tmp_path)
    base = make()
    audio = Audio(base.samples, base.rate, (0.25, 0.5 + 1e-9))
    key = response_key(**KEY_FIELDS)
    cache.put(key, audio)
    back = cache.get(key)
    assert back.sentence_bounds == audio.sentence_bounds and np.array_equal(back.samples, audio.samples)
    data = cache.path_for(key).read_bytes()
    assert data[:8] == b"VCRESP02"
    for lie in (b"VCRESP01" + data[8:], data[: len(data) - 8]):  # bounds under the old magic; cut off
        cache.path_for(key).write_bytes(lie)
        assert cache.get(key) is None and not cache.path_for(key).exists()
        cache.put(key, audio)
    # Whole and checksummed, but times no audio has: refused like any damaged entry.
    for nonsense in ((float("nan"),), (-0.5,), (0.5, 0.25), (base.seconds + 1,)):
        cache.path_for(key).write_bytes(encode_entry(Audio(base.samples, base.rate, nonsense)))
        assert cache.get(key) is None and not cache.path_for(key).exists()


def test_an_answer_without_sentence_times_is_stored_as_before():
    """Entries an older voiceclone can read: the first format, unchanged, when there is no timing."""
    import zlib

    audio = pcm16_audio(100)
    payload = np.round(audio.samples * 32768).astype("<i2").tobytes()
    header = b"VCRESP01" + bytes([1]) + (24000).to_bytes(4, "little") + (100).to_bytes(8, "little")
    header += len(payload).to_bytes(8, "little") + zlib.crc32(payload).to_bytes(4, "little")
    assert encode_entry(audio) == header + payload


@pytest.mark.parametrize("field, other", [
    ("engine", "local"), ("endpoint", "http://127.0.0.1:2/api/sync-clone"), ("sample_sha256", "cd" * 32),
    ("text", "Hello there!"), ("speed", 1.1), ("pitch", -0.2), ("version", "sync-clone/2"),
])
def test_every_part_of_the_key_changes_it(field, other):
    assert response_key(**{**KEY_FIELDS, field: other}) != response_key(**KEY_FIELDS)


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) - 7],  # truncated
    lambda data: data[:100] + bytes([data[100] ^ 0xFF]) + data[101:],  # a flipped byte
    lambda data: b"",  # empty
])
def test_a_damaged_entry_is_deleted_not_returned(tmp_path, damage):
    cache = ResponseCache(tmp_path)
    key = response_key(**KEY_FIELDS)
    cache.put(key, pcm16_audio())
    path = cache.path_for(key)
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(key) is None
    assert not path.exists()


def test_least_recently_used_entries_are_evicted_under_the_cap(tmp_path):
    one = len(encode_entry(pcm16_audio(1000)))
    cache = ResponseCache(tmp_path, max_bytes=int(3.5 * one))
    keys = [response_key(**{**KEY_FIELDS, "text": f"chunk {i}"}) for i in range(4)]
    for age, key in zip((400, 300, 200), keys[:3]):
        cache.put(key, pcm16_audio(1000, seed=age))
        past = time.time() - age
        os.utime(cache.path_for(key), (past, past))  # stored long ago, oldest first
    assert cache.get(keys[0]) is not None  # a hit makes the oldest the most recently used
    cache.put(keys[3], pcm16_audio(1000))  # over the cap: the least recently used one goes
    assert [cache.path_for(k).exists() for k in keys] == [True, False, True, True]
    assert sum(p.stat().st_size for p in entries(tmp_path)) <= 3.5 * one


def test_a_zero_cap_stores_nothing(tmp_path):
    cache = ResponseCache(tmp_path, max_bytes=0)
    cache.put(response_key(**KEY_FIELDS), pcm16_audio())
    assert entries(tmp_path) == []


def test_concurrent_stores_of_one_entry_leave_it_whole(tmp_path):
    key = response_key(**KEY_FIELDS)
    audio = pcm16_audio(50_000)
    script = (
        "import sys, numpy as np\n"
        "from voiceclone_cli.engines.response_cache import ResponseCache\n"
        "from voiceclone_cli.audio.wav import Audio\n"
        "ints = np.random.default_rng(0).integers(-32768, 32768, 50000)\n"
        "audio = Audio(ints.astype(np.float32) / np.float32(32768.0), 24000)\n"
        f"cache = ResponseCache(__import__('pathlib').Path({str(tmp_path)!r}))\n"
        f"for _ in range(30): cache.put({key!r}, audio)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    cache = ResponseCache(tmp_path)
    seen, errors = [], []

    def worker():
        for _ in range(30):
            try:
                cache.put(key, audio)
                got = cache.get(key)
                seen.append(got is not None and np.array_equal(got.samples, audio.samples))
            except Exception as exc:  # noqa: BLE001 - any exception is the failure
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.wait(timeout=60) == 0 for p in procs)
    assert errors == [] and len(seen) == 120 and all(seen)
    assert len(entries(tmp_path)) == 1 and not list(tmp_path.glob("responses/*/.*.part"))


def test_the_cap_is_the_cache_size_setting(monkeypatch):
    assert cache_size_limit() == 1_000_000_000
    monkeypatch.setenv("VOICECLONE_CACHE_SIZE", "2GB")
    assert cache_size_limit() == 2_000_000_000
    monkeypatch.setenv("VOICECLONE_CACHE_SIZE", "lots")
    with pytest.raises(VoicecloneError, match="VOICECLONE_CACHE_SIZE"):
        cache_size_limit()


class _CountingEngine:
    name, endpoint, max_chunk_chars, first_chunk_chars, max_workers, cpu_bound = "fake", "", 100, None, 1, False

    def __init__(self, version: str) -> None:
        self.version = version
        self.calls = 0

    def prepare_voice(self, sample):
        return "voice"

    def synthesize(self, text, voice, *, speed=1.0, pitch=0.0):
        self.calls += 1
        return pcm16_audio(100, seed=self.calls)

    def stats(self):
        return {"requests": self.calls}

    def close(self):
        pass


def test_a_new_engine_version_asks_again(tmp_path):
    from types import SimpleNamespace

    first = CachedEngine(_CountingEngine("model/1"), ResponseCache(tmp_path))
    voice = first.prepare_voice(SimpleNamespace(sha256="ef" * 32))
    made = first.synthesize("Hello.", voice)
    again = first.synthesize("Hello.", voice)
    assert first.engine.calls == 1 and np.array_equal(made.samples, again.samples)
    assert first.stats() == {"requests": 1, "cache_hits": 1}
    upgraded = CachedEngine(_CountingEngine("model/2"), ResponseCache(tmp_path))
    upgraded.synthesize("Hello.", upgraded.prepare_voice(voice.sample))
    assert upgraded.engine.calls == 1


# ---- through the CLI ----------------------------------------------------------------------


def test_a_second_say_is_answered_from_the_cache(cli, api_env, sample_wav, tmp_path):
    first = cli(["say", "-s", sample_wav, LONG[:2500], "-o", tmp_path / "a.wav", "--json"])
    assert first.code == 0, first.stderr
    sent = len(api_env.requests)
    again = cli(["say", "-s", sample_wav, LONG[:2500], "-o", tmp_path / "b.wav", "--json"])
    assert again.code == 0, again.stderr
    told = cli(["say", "-s", sample_wav, LONG[:2500], "-o", tmp_path / "b.wav"]).stderr
    assert f"{sent} of {sent} chunks from the cache" in told
    assert len(api_env.requests) == sent  # nothing sent
    summary = json.loads(again.out)
    assert (summary["requests"], summary["cache_hits"], summary["chunks"]) == (0, sent, sent)
    assert np.array_equal(read_audio(tmp_path / "a.wav")[0], read_audio(tmp_path / "b.wav")[0])
    # Any change to what decides the audio is a new request.
    assert cli(["say", "-s", sample_wav, LONG[:2500], "-o", tmp_path / "c.wav", "--speed", "1.2"]).code == 0
    assert len(api_env.requests) == 2 * sent


def test_a_corrupt_entry_is_requested_again(cli, api_env, sample_wav, tmp_path):
    assert cli(["say", "-s", sample_wav, "Hello there.", "-o", tmp_path / "a.wav"]).code == 0
    (path,) = entries(cache_dir())
    path.write_bytes(path.read_bytes()[:-10])
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", tmp_path / "b.wav"])
    assert r.code == 0, r.stderr
    assert texts_sent(api_env) == ["Hello there.", "Hello there."]
    assert "damaged" in r.stderr
    assert np.array_equal(read_audio(tmp_path / "a.wav")[0], read_audio(tmp_path / "b.wav")[0])


def test_no_cache_sends_every_request_and_stores_nothing(cli, api_env, sample_wav, tmp_path):
    for name in ("a.wav", "b.wav"):
        r = cli(["say", "-s", sample_wav, "Hello there.", "-o", tmp_path / name, "--no-cache"])
        assert r.code == 0, r.stderr
    assert texts_sent(api_env) == ["Hello there.", "Hello there."]
    assert entries(cache_dir()) == []


def test_cache_stats_and_clear(cli, api_env, sample_wav, tmp_path):
    assert cli(["say", "-s", sample_wav, "One.", "-o", tmp_path / "a.wav"]).code == 0
    assert cli(["say", "-s", sample_wav, "One. Two.", "-o", tmp_path / "b.wav"]).code == 0
    assert cli(["say", "-s", sample_wav, "One.", "-o", tmp_path / "c.wav"]).code == 0
    r = cli(["cache", "stats", "--json"])
    assert r.code == 0, r.stderr
    stats = json.loads(r.out)
    on_disk = entries(cache_dir())
    assert stats["entries"] == len(on_disk) == 2
    assert stats["bytes"] == sum(p.stat().st_size for p in on_disk)
    assert stats["max_bytes"] == 1_000_000_000
    assert [(run["hits"], run["misses"]) for run in stats["runs"]] == [(0, 1), (0, 1), (1, 0)]
    human = cli(["cache", "stats"])
    assert human.code == 0 and "2 entries" in human.out and "1 chunks from the cache, 2 requested" in human.out

    profiles = cache_dir() / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "voice.npz").write_bytes(b"x" * 10)
    r = cli(["cache", "clear", "--profiles"])
    assert r.code == 0 and "1 cached voice profile(s)" in r.stderr and "response" not in r.stderr
    assert len(entries(cache_dir())) == 2
    (profiles / "voice.npz").write_bytes(b"x" * 10)
    r = cli(["cache", "clear", "--responses"])
    assert r.code == 0 and "2 cached response(s)" in r.stderr and "profile" not in r.stderr
    assert entries(cache_dir()) == [] and (profiles / "voice.npz").exists()
    assert json.loads(cli(["cache", "stats", "--json"]).out)["runs"] == []
    r = cli(["cache", "clear"])
    assert r.code == 0 and "1 cached voice profile(s)" in r.stderr and "0 cached response(s)" in r.stderr


def test_a_bad_cache_size_is_refused_before_any_request(cli, api_env, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_CACHE_SIZE", "huge")
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "a.wav"])
    assert r.code == 3 and "VOICECLONE_CACHE_SIZE" in r.stderr and api_env.requests == []


def test_a_batch_line_that_failed_mid_way_sends_only_its_missing_chunks(cli, api_env, sample_wav, tmp_path):
    line = " ".join(f"Sentence {i} of a batch line long enough for four requests." for i in range(60))
    script = tmp_path / "s.txt"
    script.write_text(line + "\n", encoding="utf-8")
    api_env.state.refused_texts = {"Sentence 40 ": 500}  # in the line's third chunk
    args = ["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--retries", "0", "--json"]
    r = cli(args)
    assert r.code == 10, r.stderr
    first = texts_sent(api_env)
    assert len(first) == 3 and "Sentence 40 " in first[2]

    api_env.state.refused_texts = {}
    api_env.requests.clear()
    r = cli(args)
    assert r.code == 0, r.stderr
    again = texts_sent(api_env)
    assert again[0] == first[2] and len(again) == 2  # the failed chunk and the one after it
    assert json.loads(r.out)["cache_hits"] == 2
    reference = tmp_path / "ref.wav"
    assert cli(["say", "-s", sample_wav, line, "-o", reference, "--no-cache"]).code == 0
    assert np.array_equal(read_audio(tmp_path / "out" / "1.wav")[0], read_audio(reference)[0])


def _say_process(args: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen([str(BIN), "say", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_killed_say_re_run_sends_only_the_unanswered_chunks(server, sample_wav, tmp_path):
    server.state.rate = 8000  # small answers: the test is about which chunks, not their size
    answered_before_kill = 5
    # The first five answers come at once; the rest hang, so the kill lands after exactly five.
    server.fail(*[Fault("slow", delay=0)] * answered_before_kill, *[Fault("slow", delay=60)] * 20)
    cache = tmp_path / "cache"
    env = env_for(VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY, VOICECLONE_CACHE_DIR=str(cache))
    out = tmp_path / "out.wav"
    args = ["-s", sample_wav, LONG, "-o", out]
    proc = _say_process(args, env)
    try:
        deadline = time.monotonic() + 60  # a hang detector, not a pacing sleep
        while len(entries(cache)) < answered_before_kill:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the answered chunks never reached the cache"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    all_chunks = len(texts_sent(server)) >= answered_before_kill
    assert all_chunks and not out.exists()
    answered = {r.fields["text"] for r in server.requests[:answered_before_kill]}

    with server.lock:
        server.state.faults.clear()
    server.requests.clear()
    rerun = _say_process(args, env)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()
    resent = texts_sent(server)
    assert not answered & set(resent)

    server.requests.clear()
    reference = tmp_path / "reference.wav"
    fresh = env_for(VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY,
                    VOICECLONE_CACHE_DIR=str(tmp_path / "fresh-cache"))
    assert _say_process(["-s", sample_wav, LONG, "-o", reference], fresh).wait(timeout=120) == 0
    assert len(resent) == len(server.requests) - answered_before_kill
    assert np.array_equal(read_audio(out)[0], read_audio(reference)[0])


def test_a_chunk_asked_for_by_several_workers_at_once_is_made_once(tmp_path):
    import threading
    import time
    from types import SimpleNamespace

    release = threading.Event()

    class Slow(_CountingEngine):
        def synthesize(self, text, voice, *, speed=1.0, pitch=0.0):
            release.wait(10)  # held until every other worker waits for this answer
            return super().synthesize(text, voice, speed=speed, pitch=pitch)

    engine = CachedEngine(Slow("v1"), ResponseCache(tmp_path, max_bytes=0))  # even with storing off
    voice = engine.prepare_voice(SimpleNamespace(sha256="ab" * 32))
    results = []
    workers = [threading.Thread(target=lambda: results.append(engine.synthesize("Yes.", voice))) for _ in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the three others are blocked on the first one's answer
        pending = list(engine._inflight.values())
        if pending and len(pending[0]._condition._waiters) == 3:
            break
        time.sleep(0.001)  # polling for a state, not waiting for an outcome
    release.set()
    for w in workers:
        w.join(10)
    assert engine.engine.calls == 1 and len(results) == 4
    assert all(np.array_equal(r.samples, results[0].samples) for r in results)
