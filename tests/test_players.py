"""VOICECLONE_PLAYER as any command: how each kind is fed, and players that misbehave.

The players here are small Python scripts that record what they were given, so every test
checks the bytes and arguments a real player would have received.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import BIN, read_audio
from voiceclone_cli.audio.wav import STREAMING_SIZE, wav_header

TEXT = " ".join(f"This is sentence number {i} of a text that makes a few seconds of audio." for i in range(12))

# Records its arguments and whatever it plays (stdin, or the file named in its arguments) into
# the folder $STUB_LOG, one numbered pair of files per run.
RECORDER = r'''
import json, os, sys
from pathlib import Path
log = Path(os.environ["STUB_LOG"])
run = len(list(log.glob("*.json")))
args = sys.argv[1:]
files = [a.split("=", 1)[-1] for a in args if a.split("=", 1)[-1].endswith(".wav")]
data = Path(files[0]).read_bytes() if files else sys.stdin.buffer.read()
(log / f"{run}.bin").write_bytes(data)
(log / f"{run}.json").write_text(json.dumps({"args": args, "files": files}))
'''


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("STUB_LOG", str(log))
    script = _script(tmp_path, "recorder.py", RECORDER)

    def runs():
        return [(json.loads((log / f"{i}.json").read_text()), (log / f"{i}.bin").read_bytes())
                for i in range(len(list(log.glob("*.json"))))]

    return script, runs


def _play_and_save(cli, sample_wav, tmp_path, monkeypatch, player: str):
    monkeypatch.setenv("VOICECLONE_PLAYER", player)
    saved = tmp_path / "saved.wav"
    r = cli(["say", "-s", sample_wav, TEXT, "--play", "-o", saved])
    assert r.code == 0, r.stderr
    return read_audio(saved)


def _same_audio(pcm16: bytes, saved: np.ndarray) -> bool:
    played = np.frombuffer(pcm16, "<i2").astype(np.float32) / 32768
    return len(played) == len(saved) and np.allclose(played, saved, atol=1 / 32768)


@pytest.mark.parametrize("lone_dash", [True, False], ids=["cmd -", "any cmd"])
def test_a_command_gets_a_wav_stream_on_stdin(cli, api_env, sample_wav, tmp_path, monkeypatch, recorder, lone_dash):
    script, runs = recorder
    player = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} --no-video" + (" -" if lone_dash else "")
    saved, rate = _play_and_save(cli, sample_wav, tmp_path, monkeypatch, player)
    [(record, data)] = runs()  # no probe run: an arbitrary command is not tried beforehand
    assert record["args"] == ["--no-video"] + (["-"] if lone_dash else [])
    assert data[:44] == wav_header(rate)  # the streaming header: sizes unknown
    assert int.from_bytes(data[4:8], "little") == STREAMING_SIZE
    assert _same_audio(data[44:], saved)


def test_a_command_with_braces_gets_a_complete_wav_file(cli, api_env, sample_wav, tmp_path, monkeypatch, recorder):
    script, runs = recorder
    saved, rate = _play_and_save(cli, sample_wav, tmp_path, monkeypatch, f"{sys.executable} {script} --file={{}} --quiet")
    [(record, data)] = runs()
    [played] = record["files"]
    assert record["args"] == [f"--file={played}", "--quiet"]
    assert data[:44] == wav_header(rate, frames=len(saved))  # complete sizes, not a stream
    assert _same_audio(data[44:], saved)
    assert not Path(played).exists()  # the temporary file is removed after playing


def _as_aplay(script: Path, tmp_path: Path) -> dict[str, str]:
    """A PATH on which ``aplay`` is the script (a known player, so fed raw PCM after a probe)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "aplay").symlink_to(script)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def test_a_known_player_alone_keeps_its_raw_pcm_arguments(cli, api_env, sample_wav, tmp_path, recorder, monkeypatch):
    script, runs = recorder
    monkeypatch.setenv("PATH", _as_aplay(script, tmp_path)["PATH"])
    saved, rate = _play_and_save(cli, sample_wav, tmp_path, monkeypatch, "aplay -D hw:1")
    (probe, silence), (record, data) = runs()  # a known player is probed with 10 ms of silence
    assert set(silence) == {0}
    assert record["args"] == ["-D", "hw:1", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(rate)]
    assert _same_audio(data, saved)  # raw PCM: no header


def test_a_player_not_on_path_is_named_before_any_request(cli, api_env, sample_wav, monkeypatch):
    monkeypatch.setenv("VOICECLONE_PLAYER", "no-such-player-xyz -")
    r = cli(["say", "-s", sample_wav, "Hello.", "--play"])
    assert r.code == 9
    assert "'no-such-player-xyz'" in r.stderr and "not on PATH" in r.stderr
    assert r.stderr.count("\n") == 1
    assert api_env.requests == []


# Writes 2 MB to stderr while it reads its stdin, like a player printing a level meter.
FLOODER = r'''
import sys
line = b"#" * 1023 + b"\n"
for _ in range(1024):
    sys.stderr.buffer.write(line)
while sys.stdin.buffer.read(4096):
    pass
for _ in range(1024):
    sys.stderr.buffer.write(line)
sys.stderr.buffer.write(b"done\n")
'''


@pytest.mark.parametrize("kind", ["known player", "wav on stdin"])
def test_a_player_that_floods_stderr_does_not_hang_the_run(api_env, sample_wav, tmp_path, kind):
    flooder = _script(tmp_path, "flooder.py", FLOODER)
    if kind == "known player":
        env = dict(os.environ, VOICECLONE_PLAYER="aplay", **_as_aplay(flooder, tmp_path))
    else:
        env = dict(os.environ, VOICECLONE_PLAYER=f"{sys.executable} {flooder} -")
    out = tmp_path / "saved.wav"
    # the timeout only detects a hang: a healthy run takes a few seconds
    proc = subprocess.run([BIN, "say", "-s", sample_wav, TEXT, "--play", "-o", out],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(out).frames > 0
    assert "#" not in proc.stderr  # the player's noise is not passed on


FAILING = r'''
import sys
sys.stdin.buffer.read()
sys.stderr.write("noise\n" * 20000)
sys.stderr.write("stub: audio device hw:7 is busy\n")
sys.exit(3)
'''

DYING = r'''
import sys
sys.stderr.write("stub: cannot open hw:7\n")
sys.exit(1)
'''


@pytest.mark.parametrize("body", [FAILING, DYING], ids=["fails at the end", "dies at once"])
def test_a_failing_player_gives_exit_9_with_its_last_stderr_line(cli, api_env, sample_wav, tmp_path, monkeypatch, body):
    player = _script(tmp_path, "failing.py", body)
    monkeypatch.setenv("VOICECLONE_PLAYER", f"{sys.executable} {player}")
    out = tmp_path / "saved.wav"
    r = cli(["say", "-s", sample_wav, TEXT, "--play", "-o", out])
    assert r.code == 9
    [line] = r.stderr.splitlines()
    assert line.startswith(f"voiceclone: error: the player {Path(sys.executable).name} failed: ")
    assert ("hw:7 is busy" if body is FAILING else "cannot open hw:7") in line


class _NoDevice:
    name = "nodevice"

    def available(self):
        return True

    def probe(self):
        from voiceclone_cli.errors import PlaybackError

        raise PlaybackError("no card found")


def test_no_device_with_a_file_output_suggests_dropping_play(cli, api_env, sample_wav, tmp_path, monkeypatch):
    import voiceclone_cli.output.players as players

    monkeypatch.setattr(players, "_backends", lambda: [_NoDevice()])
    out = tmp_path / "x.wav"
    r = cli(["say", "-s", sample_wav, "Hello.", "--play", "-o", out])
    assert r.code == 9 and "no output device" in r.stderr
    assert "-o out.wav" not in r.stderr and "drop --play" in r.stderr and str(out) in r.stderr
    assert api_env.requests == []
    r = cli(["say", "-s", sample_wav, "Hello.", "--play"])  # without a file the hint still offers one
    assert r.code == 9 and "-o out.wav" in r.stderr
