"""Nothing the user owns is lost: inputs, links, devices, existing outputs, other runs' files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import dead_pid, read_audio
from tests.test_batch_cli import run_batch, write_lines
from voiceclone_cli.output.atomic import temp_path_for


def _digest(path: Path) -> bytes:
    return path.read_bytes()


# ---- an output that is one of the inputs ----------------------------------------------------


@pytest.fixture
def my_sample(tmp_path, sample_wav) -> Path:
    path = tmp_path / "me.wav"
    path.write_bytes(sample_wav.read_bytes())
    return path


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "hard link", "symlink"])
def test_say_refuses_to_write_over_its_sample(cli, api_env, my_sample, tmp_path, monkeypatch, spelling):
    monkeypatch.chdir(tmp_path)
    before = _digest(my_sample)
    target = {"same": "me.wav", "dot-slash": "./me.wav", "hard link": "hard.wav", "symlink": "link.wav"}[spelling]
    if spelling == "hard link":
        os.link(my_sample, tmp_path / target)
    if spelling == "symlink":
        (tmp_path / target).symlink_to(my_sample)
    r = cli(["say", "-s", "me.wav", "Hello.", "-o", target])
    assert r.code == 2, r.stderr
    assert "voice sample" in r.stderr and "destroy" in r.stderr
    assert api_env.requests == []
    assert _digest(my_sample) == before


def test_say_refuses_to_write_over_its_text_file(cli, api_env, sample_wav, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("Hello there.")
    r = cli(["say", "-s", sample_wav, "-f", text, "-o", text, "--format", "wav"])
    assert r.code == 2 and "text file" in r.stderr
    assert text.read_text() == "Hello there." and api_env.requests == []


def test_batch_join_refuses_to_write_over_the_sample_or_the_input(cli, api_env, my_sample, tmp_path):
    before = _digest(my_sample)
    script = write_lines(tmp_path / "s.txt", ["One.", "Two."])
    r = run_batch(cli, script, "-s", my_sample, "-d", tmp_path / "out", "--join", my_sample)
    assert r.code == 2 and "--join" in r.stderr and "voice sample" in r.stderr
    assert _digest(my_sample) == before and api_env.requests == []
    assert not (tmp_path / "out").exists()


def test_batch_join_never_writes_over_a_cast_sample_or_a_line_s_sample(cli, api_env, my_sample, tmp_path):
    before = _digest(my_sample)
    play = write_lines(tmp_path / "play.txt", ["Ana: Hello.", "Ana: Bye."])
    r = run_batch(cli, play, "--input-format", "script", "--cast", f"ana={my_sample}",
                  "-d", tmp_path / "out", "--join", my_sample)
    assert r.code == 2 and "--join" in r.stderr and "--cast ana" in r.stderr
    assert api_env.requests == []
    lines = tmp_path / "s.jsonl"
    lines.write_text(json.dumps({"text": "Mine.", "sample": str(my_sample)}) + "\n")
    r = run_batch(cli, lines, "-d", tmp_path / "out", "--join", my_sample, "--json")
    assert r.code == 10 and "is the --join file" in json.loads(r.stdout)["failures"][0]["reason"]
    assert _digest(my_sample) == before and api_env.requests == []


def test_a_batch_line_never_writes_over_a_voice_sample(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    voice = out / "voice.wav"
    voice.write_bytes(sample_wav.read_bytes())
    before = _digest(voice)
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"text": "Overwrite my voice?", "output": "voice", "sample": str(voice)}) + "\n"
                      + json.dumps({"text": "Fine.", "output": "fine", "sample": str(voice)}) + "\n")
    r = run_batch(cli, script, "-d", out, "--json")
    assert r.code == 10
    summary = json.loads(r.stdout)
    assert summary["done"] == 1 and "voice sample" in summary["failures"][0]["reason"]
    assert _digest(voice) == before


# ---- symbolic links, FIFOs, devices -------------------------------------------------------------


def test_output_through_a_symlink_keeps_the_link(cli, api_env, sample_wav, tmp_path):
    real = tmp_path / "takes" / "final.wav"
    real.parent.mkdir()
    real.write_bytes(b"old content")
    link = tmp_path / "latest.wav"
    link.symlink_to(real)
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", link])
    assert r.code == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    x, rate = read_audio(real)
    assert len(x) / rate > 0.2
    assert [p.name for p in real.parent.iterdir()] == ["final.wav"]  # no temp left beside it


def test_output_through_a_dangling_symlink_creates_its_destination(cli, api_env, sample_wav, tmp_path):
    link = tmp_path / "latest.wav"
    link.symlink_to(tmp_path / "new.wav")
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", link])
    assert r.code == 0, r.stderr
    assert link.is_symlink() and sf.info(tmp_path / "new.wav").duration > 0.2


def test_output_to_a_fifo_streams_wav_to_its_reader(api_env, sample_wav, tmp_path):
    from tests.test_entrypoint import BIN, env_for

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = subprocess.run([BIN, "say", "-s", sample_wav, "Hello there.", "-o", fifo],
                          capture_output=True, env=env_for(api_env), timeout=60)
    reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not replaced by a file
    x, rate = read_audio(received[0])
    assert len(x) / rate > 0.2


def test_output_to_dev_null_leaves_the_device_alone(cli, api_env, sample_wav):
    before = os.stat(os.devnull)
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", os.devnull])
    assert r.code == 0, r.stderr
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert len(api_env.requests) == 1


def test_a_compressed_format_cannot_stream_into_a_device(cli, api_env, sample_wav):
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", os.devnull, "--format", "mp3"])
    assert r.code == 2 and api_env.requests == []


# ---- temp files: ours, other runs', killed runs' ------------------------------------------------


def test_say_removes_stale_temps_of_killed_runs_but_not_of_live_ones(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "keep.wav"
    stale = temp_path_for(out, pid=dead_pid())
    stale.write_bytes(b"x" * 1000)
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live = temp_path_for(out, pid=alive.pid)
        live.write_bytes(b"another run is writing this")
        r = cli(["say", "-s", sample_wav, "Hello.", "-o", out])
        assert r.code == 0, r.stderr
        assert not stale.exists() and live.exists()
    finally:
        alive.communicate(b"")


def test_a_batch_never_deletes_a_running_say_s_temp_file(api_env, sample_wav, tmp_path, cli):
    """The race of issue 14: ``say -o P/x.wav`` is writing when ``batch -d P`` starts."""
    from tests.test_entrypoint import BIN, env_for

    api_env.state.latency = 0.05
    folder = tmp_path / "P"
    folder.mkdir()
    text = " ".join(f"Sentence number {i} is here to make the text long." for i in range(60))
    for attempt in range(3):
        api_env.requests.clear()
        say = subprocess.Popen([BIN, "say", "-s", sample_wav, text, "-o", folder / "x.wav"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(api_env))
        try:
            deadline = datetime.now().timestamp() + 30
            while not any(p.name.endswith(".part") for p in folder.iterdir()):
                assert say.poll() is None and datetime.now().timestamp() < deadline, "say ended early"
                time.sleep(0.01)  # polling, not waiting for an outcome
            r = run_batch(cli, write_lines(tmp_path / f"s{attempt}.txt", ["Alpha."]), "-s", sample_wav,
                          "-d", folder)
            assert r.code == 0 and "removed" not in r.stderr, r.stderr
            _, err = say.communicate(timeout=60)
        finally:
            if say.poll() is None:
                say.kill()
        assert say.returncode == 0, err
        assert sf.info(folder / "x.wav").duration > 10


# ---- default names are reserved -------------------------------------------------------------------


def test_two_runs_in_the_same_second_never_pick_the_same_name(tmp_path):
    from voiceclone_cli.output.plan import reserve_default_name

    now = datetime(2026, 11, 30, 7, 14, 18)
    names: list[Path] = []
    lock = threading.Lock()

    def pick():
        name = reserve_default_name("wav", tmp_path, now)
        with lock:
            names.append(name)

    threads = [threading.Thread(target=pick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 8 and all(n.exists() for n in names)
    assert sorted(n.name for n in names)[0] == "voiceclone-20261130-071418-2.wav"


@pytest.mark.parametrize("bad_sample, text", [(True, "Hello."), (False, "[pause 1s]")], ids=["bad sample", "only markup"])
def test_a_failed_run_gives_its_reserved_name_back(api_env, sample_wav, tmp_path, bad_sample, text):
    """In a terminal (no -o) the name is reserved at once; a refused sample or a text with
    nothing to speak must not leave it."""
    import pty
    import shutil

    from tests.test_entrypoint import BIN, env_for

    sample = tmp_path / "sample.wav"
    if bad_sample:
        sample.write_bytes(b"RIFF" + b"\0" * 100)
    else:
        shutil.copy(sample_wav, sample)
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([BIN, "say", "-s", sample, text], stdout=slave, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, cwd=tmp_path, env=env_for(api_env), timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 3, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.wav"]
    assert not api_env.requests


# ---- signals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_keep_the_existing_output_and_leave_no_temp(api_env, sample_wav, tmp_path,
                                                                         signame, code):
    import signal

    from tests.test_entrypoint import BIN, env_for

    api_env.state.latency = 0.5  # ~10 chunks: the signal comes long before the end
    keep = tmp_path / "keep.wav"
    keep.write_bytes(b"the take I want to keep")
    text = " ".join(f"Sentence number {i} makes this a long text for many requests." for i in range(160))
    proc = subprocess.Popen([BIN, "say", "-s", sample_wav, text, "-o", keep],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(api_env))
    deadline = datetime.now().timestamp() + 30
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        assert proc.poll() is None and datetime.now().timestamp() < deadline
        time.sleep(0.01)  # polling, not waiting for an outcome
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert f"stopped by {signame}".encode() in err and b"Traceback" not in err
    assert keep.read_bytes() == b"the take I want to keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"], err


def test_sigterm_stops_a_batch_with_143_and_no_temp_files(api_env, sample_wav, tmp_path):
    import signal

    from tests.test_batch_process import LINES, start_batch, wait_for_requests

    api_env.state.latency = 0.3
    out = tmp_path / "out"
    proc = start_batch(api_env, write_lines(tmp_path / "s.txt", LINES), sample_wav, out)
    wait_for_requests(api_env, 4, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert not [p for p in out.rglob("*.part")]


# ---- stdout and stderr in odd states ---------------------------------------------------------------


def _shell(cmd: str, server, cwd: Path) -> subprocess.CompletedProcess:
    from tests.test_entrypoint import env_for

    return subprocess.run(["bash", "-c", cmd], capture_output=True, env=env_for(server), cwd=cwd, timeout=60)


def test_with_stderr_closed_messages_never_reach_the_audio(api_env, sample_wav, tmp_path):
    from tests.test_entrypoint import BIN

    api_env.fail("500")  # a retry message is printed
    proc = _shell(f"'{BIN}' say -s '{sample_wav}' 'Hello there.' -o - 2>&- > o.wav", api_env, tmp_path)
    assert proc.returncode == 0
    data = (tmp_path / "o.wav").read_bytes()
    assert data[:4] == b"RIFF"
    x, rate = read_audio(data)
    assert len(x) / rate > 0.2 and len(api_env.requests) == 2


def test_with_stdout_closed_nothing_is_paid_for(api_env, sample_wav, tmp_path):
    from tests.test_entrypoint import BIN

    proc = _shell(f"'{BIN}' say -s '{sample_wav}' 'Hello there.' -o - >&-", api_env, tmp_path)
    assert proc.returncode == 7 and b"stdout is closed" in proc.stderr and b"Traceback" not in proc.stderr
    assert api_env.requests == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stdout_is_exit_7_in_one_line(api_env, sample_wav, tmp_path):
    from tests.test_entrypoint import BIN

    proc = _shell(f"'{BIN}' say -s '{sample_wav}' 'Hello there.' -o - > /dev/full", api_env, tmp_path)
    assert proc.returncode == 7, proc.stderr
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "No space left" in lines[0]

    proc = _shell(f"'{BIN}' say -s '{sample_wav}' 'Hello there.' -o kept.wav --json > /dev/full", api_env, tmp_path)
    assert proc.returncode == 7 and len(proc.stderr.decode().strip().splitlines()) == 1
    assert sf.info(tmp_path / "kept.wav").duration > 0.2  # the audio paid for is saved all the same


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temp(api_env, sample_wav, tmp_path):
    """RLIMIT_FSIZE makes writes past 64 kB fail as a full disk would (EFBIG)."""
    import resource

    from tests.test_entrypoint import BIN, env_for

    keep = tmp_path / "o.wav"
    keep.write_bytes(b"older take")
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    proc = subprocess.run(
        # --no-cache: the limit would also stop the response cache's stores (a warning line).
        [BIN, "say", "-s", sample_wav, text, "-o", keep, "--no-cache"], capture_output=True, env=env_for(api_env),
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000)),
    )
    assert proc.returncode == 7, proc.stderr
    assert b"disk is full or the file grew too large" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert keep.read_bytes() == b"older take" and sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]


# ---- sizes past what a WAV header can say ----------------------------------------------------------


def test_a_wav_that_would_pass_the_size_limit_is_refused_and_nothing_is_left(cli, api_env, sample_wav,
                                                                           tmp_path, monkeypatch):
    from voiceclone_cli.output import formats

    monkeypatch.setattr(formats, "WAV_MAX_BYTES", 200_000)  # above the estimate for 12 characters
    api_env.state.seconds_per_char = 1.0  # far longer audio than any estimate from the text
    keep = tmp_path / "o.wav"
    keep.write_bytes(b"older take")
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", keep])
    assert r.code == 7 and "size limit" in r.stderr
    assert keep.read_bytes() == b"older take" and sorted(p.name for p in tmp_path.iterdir()) == ["o.wav"]


def test_a_long_text_is_written_as_rf64_with_the_duration_it_reports(cli, api_env, sample_wav, tmp_path,
                                                                    monkeypatch):
    from voiceclone_cli.output import formats

    monkeypatch.setattr(formats, "WAV_MAX_BYTES", 100_000)
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    r = cli(["say", "-s", sample_wav, text, "-o", tmp_path / "long.wav", "--json"])
    assert r.code == 0, r.stderr
    info = sf.info(tmp_path / "long.wav")
    assert (tmp_path / "long.wav").read_bytes()[:4] == b"RF64"
    assert info.frames * 2 > 100_000
    assert info.duration == pytest.approx(json.loads(r.stdout)["seconds"], abs=0.001)


# ---- batch names on case-insensitive disks ----------------------------------------------------------


def test_a_retried_line_never_takes_a_case_variant_of_a_finished_name(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"text": "First.", "output": "same"}) + "\n"
                      + json.dumps({"text": "Second.", "output": "SAME"}) + "\n")
    r = run_batch(cli, script, "-s", sample_wav, "-d", out)
    assert r.code == 10  # SAME is refused as a duplicate of same
    before = (out / "same.wav").read_bytes()
    r = run_batch(cli, out / "failed.jsonl", "-s", sample_wav, "-d", out, "--json")
    assert r.code == 10
    assert "differs only in case" in json.loads(r.stdout)["failures"][0]["reason"]
    assert (out / "same.wav").read_bytes() == before
    assert sorted(p.name for p in out.glob("*.wav")) == ["same.wav"]


def test_join_errors_name_join_and_a_live_run_s_join_temp_survives(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", ["One.", "Two."])
    missing = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--join", tmp_path / "no" / "all.wav")
    assert missing.code == 7 and "--join" in missing.stderr and "choose another --join path" in missing.stderr
    assert "-o " not in missing.stderr and api_env.requests == []

    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        # Another batch, still running, is writing the same --join file in this folder.
        theirs = temp_path_for(tmp_path / "all.wav", pid=alive.pid)
        theirs.write_bytes(b"half of another run's join")
        r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--join", tmp_path / "all.wav")
        assert r.code == 0, r.stderr
        assert theirs.read_bytes() == b"half of another run's join"
        assert sf.info(tmp_path / "all.wav").duration > 0.5
    finally:
        alive.communicate(b"")


def test_a_signal_right_after_a_temp_file_appears_still_removes_it(tmp_path, monkeypatch):
    """The race the SIGTERM test found under load: the file exists, create_temp has not returned."""
    from voiceclone_cli.output import atomic

    real_open = os.open

    def open_then_interrupt(*args, **kwargs):
        real_open(*args, **kwargs)
        raise KeyboardInterrupt  # what a signal handler raises at the next bytecode

    monkeypatch.setattr(atomic.os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic.create_temp(tmp_path / "keep.wav")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [] and atomic.remove_live_temps() == 0


def test_a_batch_line_file_is_put_in_place_only_together_with_its_record(tmp_path):
    """A batch line's file waits, whole, until the runner records it; an interrupted run drops
    it instead, so no file sits in the folder that the manifest does not have."""
    import numpy as np

    from voiceclone_cli.output.sinks import AudioFileSink

    kept, dropped = tmp_path / "01.wav", tmp_path / "02.wav"
    for path in (kept, dropped):
        sink = AudioFileSink(path, defer_commit=True)
        sink.open(24000)
        sink.write(np.zeros(2400, dtype=np.float32))
        sink.close()
        assert not path.exists()
        (sink.commit if path == kept else sink.abort)()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01.wav"]
