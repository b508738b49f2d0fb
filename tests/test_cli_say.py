"""``voiceclone say`` end to end through ``main`` against the loopback server."""

import json
import struct

import numpy as np
import pytest
import soundfile as sf

from tests import samples
from tests.conftest import read_audio
from tests.fakeserver import BASIC_PLAN_KEY, VALID_KEY, Fault

TEXT = "Hello there. This is a test."


def speech_seconds(text):
    """What the fake server's voice lasts once joined: 20 ms per character + pads."""
    return len(text) * 0.02


def test_writes_a_wav_file(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "hello.wav"
    r = cli(["say", "--sample", sample_wav, TEXT, "-o", out])
    assert r.code == 0, r.stderr
    assert r.stdout == b""
    x, rate = read_audio(out)
    assert rate == 24000
    assert len(x) / rate == pytest.approx(speech_seconds(TEXT) + 0.24, abs=0.03)
    assert f"wrote {out}" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["hello.wav"]


def test_dash_o_writes_a_streaming_wav_to_stdout(cli, api_env, sample_wav):
    r = cli(["say", "-s", sample_wav, TEXT, "-o", "-"])
    assert r.code == 0, r.stderr
    assert r.stdout[:4] == b"RIFF" and struct.unpack_from("<I", r.stdout, 40)[0] == 0xFFFFFFFF
    x, rate = read_audio(r.stdout)
    assert len(x) / rate == pytest.approx(speech_seconds(TEXT) + 0.24, abs=0.03)
    assert r.stderr == ""


def test_piped_stdout_without_o_gets_the_audio(cli, api_env, sample_wav, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli(["say", "-s", sample_wav, TEXT])
    assert r.code == 0 and r.stdout[:4] == b"RIFF"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["-"], [], ["-f", "-"]])
def test_text_from_stdin(cli, api_env, sample_wav, tmp_path, args):
    out = tmp_path / "o.wav"
    r = cli(["say", "-s", sample_wav, *args, "-o", out], stdin="Piped words here.\n".encode())
    assert r.code == 0, r.stderr
    assert api_env.requests[0].fields["text"] == "Piped words here."


def test_text_from_file_is_normalised(cli, api_env, sample_wav, tmp_path):
    text_file = tmp_path / "t.txt"
    text_file.write_bytes("\ufeffCafe\u0301\x07 ok.\r\n".encode())
    r = cli(["say", "-s", sample_wav, "-f", text_file, "-o", tmp_path / "o.wav"])
    assert r.code == 0, r.stderr
    assert api_env.requests[0].fields["text"] == "Caf\u00e9 ok."


def test_long_text_is_chunked_and_joined(cli, api_env, sample_wav, tmp_path):
    # Every sentence different: chunks that repeat would be made once (tested in test_response_cache).
    text = "".join(f"Sentence {n} is part of a long text that needs several requests. " for n in range(40))
    out = tmp_path / "long.wav"
    r = cli(["say", "-s", sample_wav, text, "-o", out, "--json"])
    assert r.code == 0, r.stderr
    summary = json.loads(r.out)
    texts = [req.fields["text"] for req in api_env.requests]
    assert summary["chunks"] == len(texts) == 3 and summary["requests"] == 3
    assert all(len(t) <= 1000 for t in texts)
    in_order = sorted(texts, key=text.find)  # two workers: requests may arrive in either order
    assert " ".join(in_order).split() == text.split()
    x, rate = read_audio(out)
    assert summary["seconds"] == pytest.approx(len(x) / rate, abs=0.01)
    expected = sum(speech_seconds(t) + 0.24 for t in texts) - 2 * 0.03
    assert len(x) / rate == pytest.approx(expected, abs=0.05)


def test_chunks_at_different_rates_become_one_rate(cli, api_env, sample_wav, tmp_path):
    api_env.state.rates = [22050, 16000, 44100]
    out = tmp_path / "o.wav"
    text = " ".join(f"Sentence number {i} is here." for i in range(80))
    r = cli(["say", "-s", sample_wav, text, "-o", out])
    assert r.code == 0, r.stderr
    served = {req.fields["text"]: req.rate for req in api_env.requests}
    assert len(set(served.values())) == 3
    first_chunk = min(served, key=lambda t: text.index(t))
    assert sf.info(out).samplerate == served[first_chunk]


def test_joins_have_no_clicks(cli, api_env, sample_wav, tmp_path):
    api_env.state.amplitudes = [0.5, 0.2, 0.8]
    out = tmp_path / "o.wav"
    r = cli(["say", "-s", sample_wav, "Sentence number one is here. " * 100, "-o", out])
    assert r.code == 0, r.stderr
    x, rate = read_audio(out)
    # the fake voice is a 220 Hz tone at most 0.8 loud: its steepest natural step
    natural = 0.98 * 2 * np.pi * 220 / rate
    assert np.max(np.abs(np.diff(x))) <= natural * 1.2


def test_json_summary(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "o.wav"
    r = cli(["say", "-s", sample_wav, TEXT, "-o", out, "--json"])
    summary = json.loads(r.out)
    assert set(summary) >= {"path", "seconds", "chunks", "requests", "retries"}
    assert summary["path"] == str(out) and summary["chunks"] == 1 and summary["retries"] == 0
    assert r.out.count("\n") == 1


def test_retries_reported_in_json(cli, api_env, sample_wav, tmp_path):
    api_env.fail(Fault("status", status=503, retry_after="0"))
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--json"])
    assert r.code == 0
    summary = json.loads(r.out)
    assert summary["requests"] == 2 and summary["retries"] == 1
    assert "retry 1 of 4" in r.stderr


def test_speed_and_pitch_reach_the_server(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--speed", "1.5", "--pitch", "-0.5"])
    assert r.code == 0
    assert api_env.requests[0].fields == {"text": TEXT, "speed": "1.5", "pitch": "-0.5"}


# ---- refusals before any request -------------------------------------------------------


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--speed", "2.5"], 2, "--speed"),
        (["--speed", "0.1"], 2, "--speed"),
        (["--pitch", "1.5"], 2, "--pitch"),
        (["--retries", "-1"], 2, "--retries"),
        (["--timeout", "0"], 2, "--timeout"),
        (["--endpoint", "http://example.com"], 2, "clear text"),
        (["--endpoint", "ftp://example.com"], 2, "not an http(s) URL"),
        (["--no-such-flag"], 2, "No such option"),
        (["--json", "-o", "-"], 2, "--json needs -o FILE"),
    ],
)
def test_usage_errors(cli, api_env, sample_wav, args, code, message):
    r = cli(["say", "-s", sample_wav, TEXT, *args])
    assert r.code == code, r.stderr
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
    assert api_env.requests == []


def test_missing_sample_flag(cli, api_env):
    r = cli(["say", TEXT])
    assert r.code == 2 and "missing --sample" in r.stderr


def test_text_argument_and_file_together(cli, api_env, sample_wav, tmp_path):
    (tmp_path / "t.txt").write_text("x")
    r = cli(["say", "-s", sample_wav, TEXT, "-f", tmp_path / "t.txt"])
    assert r.code == 2 and "not both" in r.stderr


def test_missing_key_is_refused_before_any_request(cli, server, sample_wav, monkeypatch, tmp_path):
    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav"])
    assert r.code == 4
    assert "VOICECLONE_API_KEY" in r.stderr and "voiceclone config set api-key" in r.stderr
    assert server.requests == []


@pytest.mark.parametrize("variant", ["short", "silent", "corrupt", "text", "missing"])
def test_bad_samples_are_refused_before_any_request(cli, api_env, tmp_path, variant):
    if variant == "text":
        path = tmp_path / "notes.wav"
        path.write_text("just some words\n" * 5)
    elif variant == "missing":
        path = tmp_path / "missing.wav"
    else:
        path = getattr(samples, variant)(tmp_path)
    r = cli(["say", "-s", path, TEXT, "-o", tmp_path / "o.wav"])
    assert r.code == 3, r.stderr
    assert r.stderr.startswith("voiceclone: error: ") and r.stderr.count("\n") == 1
    assert api_env.requests == []
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("text", ["   ", "\x00\x01\x02"])
def test_empty_text_refused_before_any_request(cli, api_env, sample_wav, tmp_path, text):
    r = cli(["say", "-s", sample_wav, text, "-o", tmp_path / "o.wav"])
    assert r.code == 3 and "empty" in r.stderr
    assert api_env.requests == []


def test_empty_stdin_refused(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, "-o", tmp_path / "o.wav"], stdin=b"\n\n")
    assert r.code == 3 and "text from stdin is empty" in r.stderr


def test_strict_sample_refuses_long_sample(cli, api_env, tmp_path):
    path, _ = samples.long_speech(tmp_path)
    r = cli(["say", "-s", path, TEXT, "-o", tmp_path / "o.wav", "--strict-sample"])
    assert r.code == 3 and "--strict-sample" in r.stderr
    assert api_env.requests == []


def test_long_sample_is_fitted_and_the_user_told(cli, api_env, tmp_path):
    path, _ = samples.long_speech(tmp_path)
    r = cli(["say", "-s", path, TEXT, "-o", tmp_path / "o.wav"])
    assert r.code == 0, r.stderr
    assert "trimmed" in r.stderr
    assert api_env.requests[0].status == 200
    quiet = cli(["say", "-s", path, TEXT, "-o", tmp_path / "o.wav", "--quiet"])
    assert quiet.code == 0 and quiet.stderr == ""


def test_unwritable_output_refused_before_any_request(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "no" / "such" / "dir.wav"])
    assert r.code == 7 and "does not exist" in r.stderr
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path])
    assert r.code == 7 and "is a directory" in r.stderr
    assert api_env.requests == []


# ---- failures from the service -----------------------------------------------------------


@pytest.mark.parametrize(
    "setup, code, message",
    [
        ({"key": "wrong-key-12345678"}, 4, "API key rejected"),
        ({"key": BASIC_PLAN_KEY}, 4, "subscription required"),
        ({"faults": ["429", "429"]}, 5, "Rate limit exceeded"),
        ({"faults": ["500", "500"]}, 6, "Internal server error"),
        ({"faults": ["drop", "drop"]}, 6, "connection"),
        ({"faults": ["bad_wav", "bad_wav"]}, 6, "broken WAV"),
        ({"faults": ["content_type", "content_type"]}, 6, "instead of audio/wav"),
    ],
)
def test_service_failures_map_to_exit_codes(cli, api_env, sample_wav, tmp_path, setup, code, message):
    api_env.fail(*setup.get("faults", []))
    args = ["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--retries", "1"]
    if "key" in setup:
        args += ["--api-key", setup["key"]]
    r = cli(args)
    assert r.code == code, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("voiceclone: error: ") and message in last
    assert "Traceback" not in r.stderr


def test_unreachable_server_is_a_network_error(cli, sample_wav, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("VOICECLONE_API_KEY", VALID_KEY)
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--retries", "0",
             "--endpoint", f"http://127.0.0.1:{port}"])
    assert r.code == 6 and "cannot connect" in r.stderr


def test_failure_leaves_existing_output_untouched_and_no_temp_files(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    api_env.fail("500", "500")
    r = cli(["say", "-s", sample_wav, "First sentence. " * 70 + "Second part.", "-o", out, "--retries", "0"])
    assert r.code == 6
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]


def test_failure_in_a_later_chunk_also_leaves_nothing_behind(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "o.wav"
    api_env.fail(Fault("slow", delay=0), "500")  # first chunk fine, second chunk fails
    r = cli(["say", "-s", sample_wav, "Sentence here. " * 150, "-o", out, "--retries", "0"])
    assert r.code == 6
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_existing_file_atomically(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "o.wav"
    out.write_bytes(b"old")
    assert cli(["say", "-s", sample_wav, TEXT, "-o", out]).code == 0
    assert sf.info(out).frames > 0


def test_api_key_never_appears_in_any_output(cli, api_env, sample_wav, tmp_path, monkeypatch):
    secret = "vc-super-secret-flag-key-42"
    api_env.fail("500")
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--api-key", secret, "--debug", "--retries", "1"])
    assert r.code == 4  # the fake server does not know this key
    assert "Authorization: Bearer ****" in r.stderr  # the debug log is there...
    assert "Traceback" in r.stderr  # ...with the traceback --debug promises
    assert secret not in r.stderr and secret not in r.out
    monkeypatch.setenv("VOICECLONE_API_KEY", VALID_KEY)
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--debug"])
    assert r.code == 0 and VALID_KEY not in r.stderr


def test_unexpected_bug_is_one_line_without_debug(cli, api_env, sample_wav, tmp_path, monkeypatch):
    import voiceclone_cli.speech as speech

    def boom(*a, **k):
        raise RuntimeError(f"kaboom {VALID_KEY}")

    monkeypatch.setattr(speech, "speak", boom)
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav"])
    assert r.code == 1 and "internal error: RuntimeError: kaboom" in r.stderr
    assert "Traceback" not in r.stderr and VALID_KEY not in r.stderr and "--debug" in r.stderr
    r = cli(["say", "-s", sample_wav, TEXT, "-o", tmp_path / "o.wav", "--debug"])
    assert r.code == 1 and "Traceback" in r.stderr and VALID_KEY not in r.stderr


def test_ctrl_c_exits_130_and_keeps_nothing_partial(cli, api_env, sample_wav, tmp_path, monkeypatch):
    from voiceclone_cli.engines.remote.engine import RemoteEngine

    calls = []
    original = RemoteEngine.synthesize

    def interrupt_second(self, text, voice, **kw):
        calls.append(text)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, text, voice, **kw)

    monkeypatch.setattr(RemoteEngine, "synthesize", interrupt_second)
    out = tmp_path / "o.wav"
    r = cli(["say", "-s", sample_wav, "Sentence here. " * 150, "-o", out])
    assert r.code == 130 and "interrupted" in r.stderr
    assert list(tmp_path.iterdir()) == []
