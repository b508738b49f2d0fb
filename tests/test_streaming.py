"""Streaming, playback and output formats (issue 5)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import BIN, read_audio
from tests import fakeserver
from tests.fakeserver import VALID_KEY

LONG = " ".join(f"This is sentence number {i} of a text long enough for several chunks." for i in range(60))


def test_stdout_stream_decodes_to_the_same_samples_as_the_file(cli, api_env, sample_wav, tmp_path):
    file_run = cli(["say", "-s", sample_wav, LONG, "-o", tmp_path / "o.wav"])
    stream_run = cli(["say", "-s", sample_wav, LONG, "-o", "-"])
    assert file_run.code == stream_run.code == 0
    from_file, rate = read_audio(tmp_path / "o.wav")
    from_stream, stream_rate = read_audio(stream_run.stdout)
    assert rate == stream_rate and len(from_file) > rate * 10
    assert np.array_equal(from_file, from_stream)


def test_raw_pcm_has_no_header_and_the_right_byte_count(cli, api_env, sample_wav, tmp_path):
    file_run = cli(["say", "-s", sample_wav, LONG, "-o", tmp_path / "o.wav"])
    raw_run = cli(["say", "-s", sample_wav, LONG, "--raw"])
    assert file_run.code == raw_run.code == 0
    info = sf.info(tmp_path / "o.wav")
    assert len(raw_run.stdout) == 2 * info.frames
    assert raw_run.stdout[:4] != b"RIFF"
    assert f"s16le, {info.samplerate} Hz, 1 channel" in raw_run.stderr
    pcm = np.frombuffer(raw_run.stdout, "<i2").astype(np.float32) / 32768
    assert np.allclose(pcm, read_audio(tmp_path / "o.wav")[0], atol=1 / 32768)


def test_prefetch_bounds_requests_in_flight(cli, api_env, sample_wav, tmp_path, monkeypatch):
    lock, state = threading.Lock(), {"active": 0, "peak": 0}
    original = fakeserver._Handler.do_POST

    def counting(handler):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
        try:
            original(handler)
        finally:
            with lock:
                state["active"] -= 1

    monkeypatch.setattr(fakeserver._Handler, "do_POST", counting)
    api_env.state.latency = 0.2
    for prefetch in (1, 3):
        state["peak"] = 0
        r = cli(["say", "-s", sample_wav, LONG, "-o", tmp_path / "o.wav", "--prefetch", prefetch, "--no-cache"])
        assert r.code == 0, r.stderr
        assert state["peak"] == prefetch


def test_first_audio_leaves_before_the_last_request_is_sent(server, sample_wav):
    server.state.latency = 0.4
    env = dict(os.environ, VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY)
    proc = subprocess.Popen([BIN, "say", "-s", sample_wav, LONG, "-o", "-", "--prefetch", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.read(44 + 2)  # the header and the first sample
    first_byte_at = time.monotonic()
    rest = proc.stdout.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read()
    assert len(server.requests) >= 4
    assert first_byte_at < server.requests[-1].time, "audio only started after every request was sent"
    assert read_audio(first + rest)[0].size > 0


@pytest.mark.parametrize("fmt, subtype", [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")])
def test_formats_round_trip_with_the_right_duration(cli, api_env, sample_wav, tmp_path, fmt, subtype):
    reference = cli(["say", "-s", sample_wav, LONG[:1500], "-o", tmp_path / "ref.wav"])
    assert reference.code == 0
    expected = sf.info(tmp_path / "ref.wav").duration
    out = tmp_path / f"o.{fmt}"
    r = cli(["say", "-s", sample_wav, LONG[:1500], "-o", out])
    assert r.code == 0, r.stderr
    info = sf.info(out)
    assert info.subtype == subtype
    # lossy encoders pad by a frame or two
    assert info.duration == pytest.approx(expected, abs=0.06 if fmt in ("ogg", "mp3") else 1e-3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_format_flag_and_sample_rate(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "speech"
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", out, "--format", "flac", "--sample-rate", "16000"])
    assert r.code == 0, r.stderr
    info = sf.info(out)
    assert info.format == "FLAC" and info.samplerate == 16000


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "x.aiff"], "unknown output extension .aiff — use one of: wav, flac, ogg, mp3"),
        (["-o", "x.wav", "--format", "flac"], "does not match --format flac"),
        (["--format", "opus", "-o", "x"], "unsupported output format 'opus'"),
        (["-o", "-", "--format", "mp3"], "stdout carries WAV"),
        (["--raw", "-o", "x.wav"], "--raw writes to stdout"),
        (["--raw", "--format", "wav"], "cannot be combined with --format"),
    ],
)
def test_output_option_conflicts_are_usage_errors(cli, api_env, sample_wav, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = cli(["say", "-s", sample_wav, "Hello.", *args])
    assert r.code == 2 and message in r.stderr
    assert api_env.requests == []


@pytest.mark.parametrize("rate, suggested", [(96000, 48000), (11111, 12000)])
def test_mp3_rate_is_refused_before_any_request(cli, api_env, sample_wav, tmp_path, rate, suggested):
    r = cli(["say", "-s", sample_wav, "Hello. " * 300, "-o", tmp_path / "o.mp3", "--sample-rate", rate])
    assert r.code == 2 and f"--sample-rate {suggested}" in r.stderr
    assert api_env.requests == []
    assert list(tmp_path.iterdir()) == []


def test_mp3_takes_an_engine_rate_it_cannot_encode_at_the_nearest_rate(cli, api_env, sample_wav, tmp_path):
    api_env.state.rate = 96000  # an engine answering at a rate MP3 cannot hold
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", tmp_path / "o.mp3"])
    assert r.code == 0, r.stderr
    info = sf.info(tmp_path / "o.mp3")
    assert info.samplerate == 48000 and info.duration > 0.2


class RecordingBackend:
    """A player that records what it was given (the brief's test backend)."""

    name = "recorder"

    def __init__(self, fail_probe=False):
        self.fail_probe = fail_probe
        self.rate = None
        self.pcm = bytearray()
        self.finished = False

    def available(self):
        return True

    def probe(self):
        if self.fail_probe:
            from voiceclone_cli.errors import PlaybackError

            raise PlaybackError("recorder has no device")

    def start(self, rate):
        self.rate = rate
        backend = self

        class Stream:
            def write(self, pcm16):
                backend.pcm.extend(pcm16)

            def finish(self):
                backend.finished = True

            def abort(self):
                pass

        return Stream()


def test_play_feeds_the_player_the_same_audio(cli, api_env, sample_wav, tmp_path, monkeypatch):
    import voiceclone_cli.output.players as players

    recorder = RecordingBackend()
    monkeypatch.setattr(players, "_backends", lambda: [recorder])
    r = cli(["say", "-s", sample_wav, LONG[:2500], "--play", "-o", tmp_path / "saved.wav"])
    assert r.code == 0, r.stderr
    saved, rate = read_audio(tmp_path / "saved.wav")
    assert recorder.finished and recorder.rate == rate
    played = np.frombuffer(bytes(recorder.pcm), "<i2").astype(np.float32) / 32768
    assert np.allclose(played, saved, atol=1 / 32768)
    # --play alone writes nothing, even with stdout piped
    recorder.pcm.clear()
    monkeypatch.chdir(tmp_path)
    r = cli(["say", "-s", sample_wav, "Just play.", "--play"])
    assert r.code == 0 and r.stdout == b"" and len(recorder.pcm) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.wav"]


def test_no_audio_device_is_a_clear_error_before_any_request(cli, api_env, sample_wav, tmp_path, monkeypatch):
    import voiceclone_cli.output.players as players

    monkeypatch.setattr(players, "_backends", lambda: [RecordingBackend(fail_probe=True)])
    r = cli(["say", "-s", sample_wav, "Hello.", "--play"])
    assert r.code == 9
    assert "no output device" in r.stderr and "-o out.wav" in r.stderr
    assert api_env.requests == []


def _has_sound_card() -> bool:
    try:
        return "no soundcards" not in Path("/proc/asound/cards").read_text()
    except OSError:
        return False


@pytest.mark.skipif(_has_sound_card() or not sys.platform.startswith("linux"), reason="needs a machine without a sound card")
def test_real_machine_without_sound_refuses_play(api_env, sample_wav, tmp_path):
    env = dict(os.environ)
    env.pop("VOICECLONE_PLAYER", None)
    proc = subprocess.run([BIN, "say", "-s", sample_wav, "Hello.", "--play"], capture_output=True, text=True, env=env)
    assert proc.returncode == 9, proc.stderr
    assert proc.stderr.count("\n") == 1 and "ALSA" not in proc.stderr  # C library noise suppressed


def _aplay_null_works() -> bool:
    if shutil.which("aplay") is None:
        return False
    return subprocess.run(["aplay", "-q", "-D", "null", "-t", "raw", "-f", "S16_LE", "-r", "8000"],
                          input=b"\0" * 160, capture_output=True).returncode == 0


@pytest.mark.skipif(not _aplay_null_works(), reason="aplay with ALSA's null device is not available")
def test_real_aplay_on_the_null_device(api_env, sample_wav, tmp_path):
    env = dict(os.environ, VOICECLONE_PLAYER="aplay -D null")
    out = tmp_path / "also-saved.wav"
    proc = subprocess.run([BIN, "say", "-s", sample_wav, LONG[:1200], "--play", "-o", out],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(out).frames > 0


def test_unknown_forced_player(cli, api_env, sample_wav, monkeypatch):
    monkeypatch.setenv("VOICECLONE_PLAYER", "winamp")
    r = cli(["say", "-s", sample_wav, "Hello.", "--play"])
    assert r.code == 9 and "player 'winamp'" in r.stderr and "not on PATH" in r.stderr


def test_prefetcher_keeps_order_and_can_make_the_first_item_alone():
    from voiceclone_cli.prefetch import OrderedPrefetcher

    started, lock = [], threading.Lock()
    first_done = threading.Event()

    def work(i):
        with lock:
            started.append((i, first_done.is_set()))
        if i == 0:
            time.sleep(0.05)  # give a (wrongly) eager look-ahead the chance to start meanwhile
            first_done.set()
        return i * i

    results = list(OrderedPrefetcher(work, range(6), workers=2, first_alone=True))
    assert results == [i * i for i in range(6)]
    assert all(done for i, done in started if i > 0), "look-ahead started before the first item finished"


def test_stdout_stream_is_readable_by_pythons_wave_module(cli, api_env, sample_wav):
    import wave

    r = cli(["say", "-s", sample_wav, LONG[:1500], "-o", "-"])
    assert r.code == 0
    with wave.open(io.BytesIO(r.stdout)) as w:
        frames = w.readframes(10**9)  # the header says "unknown length": read to the end
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
    pcm = np.frombuffer(frames, "<i2").astype(np.float32) / 32768
    assert np.allclose(pcm, read_audio(r.stdout)[0], atol=1 / 32768) and len(pcm) > 0


@pytest.mark.skipif(not _aplay_null_works(), reason="aplay with ALSA's null device is not available")
def test_stdout_stream_plays_in_a_real_aplay_pipeline(api_env, sample_wav):
    env = dict(os.environ)
    producer = subprocess.Popen([BIN, "say", "-s", sample_wav, LONG[:1500], "-o", "-"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    player = subprocess.run(["aplay", "-D", "null"], stdin=producer.stdout, capture_output=True, timeout=120)
    producer.stdout.close()
    assert producer.wait(timeout=60) == 0
    assert player.returncode == 0, player.stderr
    assert b"Signed 16 bit Little Endian" in player.stderr  # aplay understood the WAV header
