"""Awkward inputs end to end: each is refused with its reason and exit code before any request."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, texts_sent, write_jsonl
from tests.test_entrypoint import env_for
from voiceclone_cli.batch.naming import NameTemplate, check_output_name, slugify
from voiceclone_cli.errors import InputError, UsageError


# ---- text ---------------------------------------------------------------------------------


def test_say_refuses_text_that_is_only_invisible(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, "\u200b\u2060\ufeff\u200e \ufe0f", "-o", tmp_path / "o.wav"])
    assert r.code == 3 and "the text argument is empty" in r.stderr
    r = cli(["say", "-s", sample_wav, "-o", tmp_path / "o.wav"], stdin="\x1b[0m\u200d\n".encode())
    assert r.code == 3 and "text from stdin is empty" in r.stderr
    assert api_env.requests == []


def test_say_sends_text_without_escapes_or_invisible_characters(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, "\x1b[1;31mRed\x1b[0m al\u00adert\u200b!", "-o", tmp_path / "o.wav"])
    assert r.code == 0, r.stderr
    assert texts_sent(api_env) == ["Red alert!"]


def test_batch_lines_are_cleaned_and_invisible_ones_fail(cli, api_env, sample_wav, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("\x1b]0;title\x07Plain line.\n\u200b\u200c\u2060\nLast\u200b line.\n", encoding="utf-8")
    r = cli(["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--json"])
    assert r.code == 10, r.stderr
    assert sorted(texts_sent(api_env)) == ["Last line.", "Plain line."]
    (failure,) = json.loads(r.out)["failures"]
    assert failure["line"] == 2 and "the text is empty" in failure["reason"]


# ---- output names ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [" intro", "intro ", "ch1 /intro", " ch1/intro", "ch1/\u3000intro", "intro\u00a0"])
def test_names_with_leading_or_trailing_spaces_are_refused(name):
    with pytest.raises(InputError, match="starts or ends with a space"):
        check_output_name(name)


@pytest.mark.parametrize("text, slug", [
    ("\x1b[1;31mRed\x1b[0m alert", "red-alert"),
    ("zero\u200bwidth\u00adword", "zerowidthword"),
    ("\x1b]0;title\x07Chapter one", "chapter-one"),
])
def test_slugs_come_from_the_spoken_text(text, slug):
    assert slugify(text) == slug


@pytest.mark.parametrize("template", ["{n:>5}", "{line:<6}", "{slug:^60}", "take {n} ", "{n:5d}"])
def test_templates_that_pad_with_spaces_are_refused_up_front(template):
    with pytest.raises(UsageError, match="starts or ends with a space") as info:
        NameTemplate(template)
    assert "{n:05d}" in info.value.hint


def test_template_with_spaces_is_a_usage_error_before_anything_happens(cli, api_env, sample_wav, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("One.\nTwo.\n", encoding="utf-8")
    r = cli(["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--name-template", "{n:>5}"])
    assert r.code == 2, r.stderr
    assert "starts or ends with a space" in r.stderr and r.stderr.count("\n") == 1
    assert api_env.requests == [] and not (tmp_path / "out").exists()


def test_jsonl_output_with_spaces_fails_its_line(cli, api_env, sample_wav, tmp_path):
    script = write_jsonl(tmp_path / "d.jsonl", [
        {"text": "Padded.", "output": "  intro"},
        {"text": "Fine.", "output": "intro"},
    ])
    out = tmp_path / "out"
    r = cli(["batch", script, "-s", sample_wav, "-d", out, "--json"])
    assert r.code == 10, r.stderr
    assert texts_sent(api_env) == ["Fine."]
    (failure,) = json.loads(r.out)["failures"]
    assert failure["line"] == 1 and "starts or ends with a space" in failure["reason"]
    assert sorted(p.name for p in out.glob("*.wav")) == ["intro.wav"]


# ---- speed and pitch -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["say", "batch"])
@pytest.mark.parametrize("option, value", [
    ("--speed", "nan"), ("--speed", "NaN"), ("--pitch", "nan"), ("--speed", "inf"),
    ("--pitch", "-inf"), ("--pitch", "infinity"), ("--speed", "fast"),
])
def test_speed_and_pitch_that_are_not_numbers_are_usage_errors(cli, api_env, sample_wav, tmp_path, command, option, value):
    script = tmp_path / "s.txt"
    script.write_text("Hello.\n", encoding="utf-8")
    args = (["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav"] if command == "say"
            else ["batch", script, "-s", sample_wav, "-d", tmp_path / "out"])
    r = cli([*args, option, value])
    assert r.code == 2, r.stderr
    assert f"Invalid value for '{option}': '{value}' is not a number" in r.stderr
    assert r.stderr.count("\n") == 1 and api_env.requests == []


def test_speed_out_of_range_names_the_range(cli, api_env, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--speed", "2.5"])
    assert r.code == 2 and "2.5 is outside 0.5 to 2" in r.stderr
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--pitch", "-1.01"])
    assert r.code == 2 and "-1.01 is outside -1 to 1" in r.stderr
    assert api_env.requests == []


def test_jsonl_speed_and_pitch_that_are_not_numbers_fail_their_line(cli, api_env, sample_wav, tmp_path):
    script = tmp_path / "d.jsonl"
    script.write_text("\n".join([
        '{"text": "Not a number.", "speed": NaN}',
        '{"text": "Infinite.", "pitch": -Infinity}',
        '{"text": "Huge.", "speed": ' + "9" * 5000 + "}",
        '{"text": "Fine.", "speed": 1.5}',
    ]) + "\n", encoding="utf-8")
    r = cli(["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--json"])
    assert r.code == 10, r.stderr
    assert texts_sent(api_env) == ["Fine."]
    reasons = {f["line"]: f["reason"] for f in json.loads(r.out)["failures"]}
    assert reasons[1] == '"speed" NaN is not a number; give one from 0.5 to 2'
    assert reasons[2] == '"pitch" -Infinity is not a number; give one from -1 to 1'
    assert reasons[3] == "not valid JSON (a number has too many digits)"


# ---- samples that are not regular files, and files that cannot be read ---------------------
# Run as real processes: a reader blocked on a FIFO must fail the test, not hang the suite.

SUBPROCESS_TIMEOUT = 60


def run_voiceclone(args, env, *, preexec_fn=None, release: Path | None = None):
    """Run the installed CLI; if it is still running at the timeout, fail the test.

    ``release`` is a FIFO: a reader stuck on it is let go (a writer opens and closes the other
    end) before the process is killed, so nothing is left hanging either way.
    """
    proc = subprocess.Popen([BIN, *args], env=env, preexec_fn=preexec_fn, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        if release is not None:
            with contextlib.suppress(OSError):
                os.close(os.open(release, os.O_WRONLY | os.O_NONBLOCK))
        proc.kill()
        proc.communicate()
        pytest.fail(f"voiceclone {' '.join(map(str, args))} still running after {SUBPROCESS_TIMEOUT} s")
    return proc.returncode, out, err.decode("utf-8", "replace")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "voice.wav"
    os.mkfifo(path)
    return path


def test_say_refuses_a_fifo_sample_without_blocking(server, fifo, tmp_path):
    code, _, err = run_voiceclone(["say", "-s", fifo, "Hello.", "-o", tmp_path / "o.wav"], env_for(server), release=fifo)
    assert code == 3, err
    assert f"sample {fifo} is a named pipe (FIFO), not an audio file" in err and err.count("\n") == 1
    assert server.requests == []


def test_batch_refuses_a_fifo_sample_without_blocking(server, fifo, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("Hello.\n", encoding="utf-8")
    code, _, err = run_voiceclone(["batch", script, "-s", fifo, "-d", tmp_path / "out"], env_for(server), release=fifo)
    assert code == 3, err
    assert "is a named pipe (FIFO), not an audio file" in err
    assert server.requests == [] and not (tmp_path / "out").exists()


def test_a_jsonl_fifo_sample_fails_its_line_without_blocking(server, fifo, sample_wav, tmp_path):
    script = write_jsonl(tmp_path / "d.jsonl", [
        {"text": "Through a pipe.", "sample": fifo.name},
        {"text": "Regular voice."},
    ])
    code, out, err = run_voiceclone(["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--json", "-q"],
                                    env_for(server), release=fifo)
    assert code == 10, err
    (failure,) = json.loads(out)["failures"]
    assert failure["line"] == 1 and "is a named pipe (FIFO), not an audio file" in failure["reason"]
    assert texts_sent(server) == ["Regular voice."]


def test_text_argument_that_is_not_utf8_is_refused_before_any_request(server, sample_wav, tmp_path):
    code, _, err = run_voiceclone(["say", "-s", sample_wav, b"caf\xe9 au lait", "-o", tmp_path / "o.wav"], env_for(server))
    assert code == 3, err
    assert "the text argument is not valid UTF-8 (byte 3)" in err and "internal error" not in err
    assert server.requests == [] and not (tmp_path / "o.wav").exists()


def _without_read_override():
    """In the child: file modes apply even to root (CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    leave the bounding set, so the CLI, exec'd next, runs without them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def unreadable(tmp_path):
    """Make paths unreadable for the CLI's process; returns (make_unreadable, preexec_fn).

    As root, chmod 000 does not stop reads, and user nobody cannot run this Python (it lives
    under /root), so the child instead keeps root but loses the permission override.
    """
    preexec = _without_read_override if os.geteuid() == 0 else None
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    probe.chmod(0)
    try:
        check = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}, 'rb')"], preexec_fn=preexec,
                               capture_output=True, text=True)
    except subprocess.SubprocessError:  # no prctl (not Linux) or not allowed to drop capabilities
        check = None
    if check is None or "PermissionError" not in check.stderr:
        pytest.skip("cannot make a file unreadable here")
    locked: list[Path] = []

    def make_unreadable(path: Path) -> Path:
        path.chmod(0)
        locked.append(path)
        return path

    yield make_unreadable, preexec
    for path in locked:  # let tmp_path be cleaned up
        path.chmod(0o700)


@pytest.mark.parametrize("where", ["file", "folder"])
def test_say_unreadable_sample(server, sample_wav, tmp_path, unreadable, where):
    make_unreadable, preexec = unreadable
    folder = tmp_path / "private"
    folder.mkdir()
    sample = folder / "me.wav"
    sample.write_bytes(sample_wav.read_bytes())
    make_unreadable(sample if where == "file" else folder)
    code, _, err = run_voiceclone(["say", "-s", sample, "Hello.", "-o", tmp_path / "o.wav"], env_for(server), preexec_fn=preexec)
    assert code == 3, err
    assert f"voiceclone: error: cannot read sample {sample}: permission denied — " in err and err.count("\n") == 1
    assert server.requests == []


def test_batch_unreadable_sample_input_and_jsonl_sample(server, sample_wav, tmp_path, unreadable):
    make_unreadable, preexec = unreadable
    locked_sample = tmp_path / "locked.wav"
    locked_sample.write_bytes(sample_wav.read_bytes())
    make_unreadable(locked_sample)
    script = tmp_path / "s.txt"
    script.write_text("Hello.\n", encoding="utf-8")
    env = env_for(server)

    code, _, err = run_voiceclone(["batch", script, "-s", locked_sample, "-d", tmp_path / "a"], env, preexec_fn=preexec)
    assert code == 3 and f"cannot read sample {locked_sample}: permission denied" in err, err

    jsonl = write_jsonl(tmp_path / "d.jsonl", [{"text": "Locked voice.", "sample": str(locked_sample)}, {"text": "Fine."}])
    code, out, err = run_voiceclone(["batch", jsonl, "-s", sample_wav, "-d", tmp_path / "b", "--json", "-q"], env,
                                    preexec_fn=preexec)
    assert code == 10, err
    (failure,) = json.loads(out)["failures"]
    assert failure["line"] == 1 and "permission denied" in failure["reason"]

    make_unreadable(script)
    code, _, err = run_voiceclone(["batch", script, "-s", sample_wav, "-d", tmp_path / "c"], env, preexec_fn=preexec)
    assert code == 3 and f"cannot read input file {script}: permission denied" in err, err
    assert texts_sent(server) == ["Fine."]


def test_say_unreadable_text_file(server, sample_wav, tmp_path, unreadable):
    make_unreadable, preexec = unreadable
    text_file = tmp_path / "t.txt"
    text_file.write_text("Hello.", encoding="utf-8")
    make_unreadable(text_file)
    code, _, err = run_voiceclone(["say", "-s", sample_wav, "-f", text_file, "-o", tmp_path / "o.wav"], env_for(server),
                                  preexec_fn=preexec)
    assert code == 3 and f"cannot read text file {text_file}: permission denied — " in err, err
    assert server.requests == []
