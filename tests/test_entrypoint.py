"""The installed entry point as a user runs it: real processes, terminals, pipes and signals."""

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import BIN, read_audio
from tests.fakeserver import VALID_KEY, Fault


def env_for(server=None, **extra):
    env = dict(os.environ)
    env.pop("VOICECLONE_API_KEY", None)
    if server is not None:
        env.update(VOICECLONE_ENDPOINT=server.url, VOICECLONE_API_KEY=VALID_KEY)
    env.update(extra)
    return env


def test_console_script_and_module_both_work():
    assert BIN.exists(), "the package must be installed (pip install -e .)"
    a = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    b = subprocess.run([sys.executable, "-m", "voiceclone_cli", "--version"], capture_output=True, text=True)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout.startswith("voiceclone ")


def run_with_terminal(args, cwd, env, stdin_tty=False, stdout_tty=True):
    """Run with stdout (and optionally stdin) attached to a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.run(
        [BIN, *map(str, args)], cwd=cwd, env=env,
        stdin=slave if stdin_tty else subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=60,
    )
    os.close(slave)
    os.close(master)
    return proc


def test_terminal_stdout_gets_an_automatic_file(server, sample_wav, tmp_path):
    proc = run_with_terminal(["say", "-s", sample_wav, "Hello there."], tmp_path, env_for(server))
    assert proc.returncode == 0, proc.stderr
    (made,) = list(tmp_path.iterdir())
    assert made.name.startswith("voiceclone-") and made.suffix == ".wav"
    assert str(made.name) in proc.stderr.decode()
    assert read_audio(made)[0].size > 0


def test_audio_is_never_written_to_a_terminal(server, sample_wav, tmp_path):
    proc = run_with_terminal(["say", "-s", sample_wav, "Hello.", "-o", "-"], tmp_path, env_for(server))
    assert proc.returncode == 2 and b"refusing to write audio to a terminal" in proc.stderr
    assert server.requests == []


def test_no_text_at_a_terminal_is_a_usage_error(server, sample_wav, tmp_path):
    proc = run_with_terminal(["say", "-s", sample_wav], tmp_path, env_for(server), stdin_tty=True)
    assert proc.returncode == 2 and b"no text to speak" in proc.stderr


def test_shell_pipeline(server, sample_wav, tmp_path):
    """echo text | voiceclone say -o - | reader: text in through stdin, audio out through stdout."""
    producer = subprocess.Popen([BIN, "say", "-s", sample_wav, "-o", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(server))
    out, err = producer.communicate(b"Text through a pipe.\n", timeout=60)
    assert producer.returncode == 0, err
    samples, rate = read_audio(out)
    assert rate == 24000 and len(samples) / rate == pytest.approx(len("Text through a pipe.") * 0.02 + 0.24, abs=0.03)
    assert server.requests[0].fields["text"] == "Text through a pipe."


def test_sigint_during_a_request_exits_130_and_leaves_nothing(server, sample_wav, tmp_path):
    server.fail(Fault("slow", delay=30))
    out = tmp_path / "o.wav"
    proc = subprocess.Popen([BIN, "say", "-s", sample_wav, "Hello.", "-o", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(server))
    deadline = time.monotonic() + 30
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.02)  # synchronise with the request reaching the server
    assert server.requests, "request never arrived"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_config_set_api_key_prompts_without_echo(tmp_path):
    """At a terminal the key is typed at a hidden prompt: it never shows on screen."""
    secret = "vc-typed-at-the-prompt-5678"
    master, slave = pty.openpty()
    env = env_for(VOICECLONE_CONFIG_DIR=str(tmp_path / "cfg"))
    def own_terminal():  # a new session whose controlling terminal is the pty, as in a shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([BIN, "config", "set", "api-key"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, preexec_fn=own_terminal)
    os.close(slave)
    screen = b""

    def read_screen(until) -> bytes:
        nonlocal screen
        deadline = time.monotonic() + 30
        while not until() and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    screen += os.read(master, 1024)
                except OSError:  # the terminal closed with the child
                    break
        return screen

    def echo_off() -> bool:
        return not termios.tcgetattr(master)[3] & termios.ECHO

    # Type only once the prompt is up and has switched echo off (input typed before that is
    # flushed by the prompt, at a real terminal too).
    read_screen(lambda: b"api-key" in screen and echo_off())
    assert echo_off(), "the prompt did not hide input"
    os.write(master, secret.encode() + b"\n")
    read_screen(lambda: proc.poll() is not None and not select.select([master], [], [], 0)[0])
    proc.wait(timeout=30)
    os.close(master)
    assert proc.returncode == 0, screen
    assert secret.encode() not in screen
    assert b"****5678" in screen
    assert secret in (tmp_path / "cfg" / "config.toml").read_text()
