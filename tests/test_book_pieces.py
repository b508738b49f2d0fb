"""Chapters encoded while the book is still being spoken: layout, joins, reuse, the child process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from tests.test_book import engine_and_voice, make_book  # noqa: F401  (a fixture)
from voiceclone_cli.book import pieces as pieces_module
from voiceclone_cli.book.job import CHAPTER_GAP_SECONDS, BookOptions, run_book, work_folder
from voiceclone_cli.book.pieces import m4b_layout
from voiceclone_cli.errors import OutputError
from voiceclone_cli.output.chapters import AAC_FRAME

REPO = Path(__file__).resolve().parents[1]


@given(st.lists(st.integers(min_value=1, max_value=2_000_000), min_size=1, max_size=12),
       st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000]))
def test_pieces_tile_the_book_in_whole_aac_frames_cut_in_silence(frames, rate):
    gap = round(CHAPTER_GAP_SECONDS * rate)
    layout = m4b_layout(frames, len(frames), gap, AAC_FRAME)
    sizes = [lead + n + tail for n, (lead, tail) in zip(frames, layout)]
    assert sum(sizes) == sum(frames) + gap * (len(frames) - 1)  # the book's timeline, exactly
    assert all(size % AAC_FRAME == 0 for size in sizes[:-1])
    assert layout[0][0] == 0 and layout[-1][1] == 0
    inner = [lead for lead, _ in layout[1:]] + [tail for _, tail in layout[:-1]]
    assert all(gap // 4 <= silence <= gap for silence in inner)
    # A chapter's piece depends only on the chapters up to it: a run in progress agrees.
    assert m4b_layout(frames[:-1], len(frames), gap, AAC_FRAME) == layout[:-1]


def decoded(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])


def test_the_m4b_plays_the_same_audio_as_the_wav_book_with_no_click_at_the_joins(engine_and_voice, tmp_path):  # noqa: F811
    engine, voice = engine_and_voice
    book = make_book(chapters=3, sentences=8)
    wav, m4b = tmp_path / "book.wav", tmp_path / "book.m4b"
    run_book(book, book.selected(), engine, voice, BookOptions(output=wav, format_name="wav"))
    summary = run_book(book, book.selected(), engine, voice, BookOptions(output=m4b, format_name="m4b"))
    reference, rate = sf.read(wav, dtype="float32")
    played = decoded(m4b)  # FFmpeg skips the encoder's priming, as the MP4 edit list says
    assert abs(len(played) - len(reference)) < 2 * AAC_FRAME
    n = min(len(played), len(reference))
    for chapter in summary.chapters:  # each chapter sounds where the WAV has it
        a, b = round(chapter.start * rate), round((chapter.start + chapter.seconds) * rate)
        assert np.corrcoef(played[a:b], reference[a:b])[0, 1] > 0.98
    noise = played[:n] - reference[:n]
    for end in (c.start + c.seconds for c in summary.chapters[:-1]):  # the gaps, cut mid-way
        gap = slice(round((end + 0.1) * rate), round((end + CHAPTER_GAP_SECONDS - 0.1) * rate))
        assert np.max(np.abs(played[gap])) < 0.01 and np.max(np.abs(noise[gap])) < 0.01


def test_pieces_left_by_a_failed_run_are_used_and_the_book_is_the_same(engine_and_voice, tmp_path, monkeypatch):  # noqa: F811
    import voiceclone_cli.output.chapters as chapters

    engine, voice = engine_and_voice
    book = make_book(chapters=3, sentences=4)
    out = tmp_path / "book.m4b"
    options = BookOptions(output=out, format_name="m4b")
    original = chapters.M4bJoin.finish

    def fail(*args, **kwargs):
        raise OutputError("disk full")

    monkeypatch.setattr(chapters.M4bJoin, "finish", fail)
    with pytest.raises(OutputError):
        run_book(book, book.selected(), engine, voice, options)
    left = sorted(p.name for p in work_folder(options).glob("*.m4a"))
    assert len(left) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [work_folder(options).name]  # no half-joined book
    monkeypatch.setattr(chapters.M4bJoin, "finish", original)
    jobs, started = [], []
    real_run, real_init = pieces_module.EncoderProcess.run, pieces_module.EncoderProcess.__init__
    monkeypatch.setattr(pieces_module.EncoderProcess, "run", lambda self, job: (jobs.append(job), real_run(self, job)))
    monkeypatch.setattr(pieces_module.EncoderProcess, "__init__", lambda self: (started.append(self), real_init(self))[1])
    run_book(book, book.selected(), engine, voice, options)
    assert jobs == []  # every piece was already there
    assert started == []  # and no encoder waited for a last chapter that was made before
    fresh = tmp_path / "fresh.m4b"
    run_book(book, book.selected(), engine, voice, BookOptions(output=fresh, format_name="m4b"))
    assert out.read_bytes() == fresh.read_bytes()


def test_pieces_at_a_gain_the_book_did_not_keep_are_encoded_again(engine_and_voice, api_env, tmp_path, monkeypatch):  # noqa: F811
    from voiceclone_cli.audio.loudness import LoudnessMeter

    engine, voice = engine_and_voice
    api_env.state.amplitudes = [0.02] * 4 + [0.5] * 60  # two quiet chapters (title, text), then loud ones
    book = make_book(chapters=4, sentences=4)
    gains = []
    real_run = pieces_module.EncoderProcess.run
    monkeypatch.setattr(pieces_module.EncoderProcess, "run",
                        lambda self, job: (gains.append((Path(job["target"]).name[:4], job["gain_db"])),
                                           real_run(self, job)))
    out = tmp_path / "book.m4b"
    summary = run_book(book, book.selected(), engine, voice, BookOptions(output=out, format_name="m4b"))
    assert len({g for _, g in gains}) > 1  # the first guess did not hold ...
    final = [g for name, g in gains if name == "0001"][-1]
    assert final == pytest.approx(summary.gain_db)  # ... so chapter 1 was encoded again at the book's gain
    meter = LoudnessMeter(24000)
    meter.add(decoded(out))
    assert abs(meter.result().integrated_lufs - -18.0) <= 1.0


def test_pieces_are_joined_while_later_chapters_are_spoken(engine_and_voice, api_env, tmp_path, monkeypatch):  # noqa: F811
    """The m4b is joined piece by piece during the run, so the end only joins the last piece;
    a piece joined at a gain the book then leaves starts the join over, and the book is the
    same as one joined at the end."""
    import voiceclone_cli.book.writing as writing
    import voiceclone_cli.output.chapters as chapters

    engine, voice = engine_and_voice
    api_env.state.amplitudes = [0.02] * 6 + [0.5] * 60  # three quiet chapters: the first guess will move
    book = make_book(chapters=5, sentences=3)
    real_ready, real_finish, real_append = (writing.BookPieces.join_ready, writing.BookPieces.finish_m4b,
                                            chapters.M4bJoin.append)
    joins, left_for_the_end = [], []

    def ready(self):  # as if the encoders were fast: every piece handed out is done
        self.maker.wait()
        real_ready(self)

    def finish(self, marks):
        left_for_the_end.append(len(self.pieces) - len(self._joined))
        real_finish(self, marks)

    def append(self, path, frames):
        if self.appended == 0:
            joins.append(self)
        real_append(self, path, frames)

    monkeypatch.setattr(writing.BookPieces, "join_ready", ready)
    monkeypatch.setattr(writing.BookPieces, "finish_m4b", finish)
    monkeypatch.setattr(chapters.M4bJoin, "append", append)
    out = tmp_path / "book.m4b"
    run_book(book, book.selected(), engine, voice, BookOptions(output=out, format_name="m4b"))
    assert left_for_the_end == [0]  # every piece was joined as its chapter ended, none at the end
    assert len(joins) == 2  # the gain moved after a piece was joined: the join started over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.m4b"]  # the first join's file is gone
    monkeypatch.undo()
    fresh = tmp_path / "fresh.m4b"  # the cache answers: the same audio, joined at the end
    run_book(book, book.selected(), engine, voice, BookOptions(output=fresh, format_name="m4b"))
    assert decoded(out).tolist() == decoded(fresh).tolist()
    assert [c["start"] for c in _chapters(out)] == [c["start"] for c in _chapters(fresh)]


def _chapters(path: Path) -> list[dict]:
    import av

    with av.open(str(path)) as container:
        return container.chapters()


def test_chapter_files_of_a_folder_are_encoded_once_each(engine_and_voice, tmp_path, monkeypatch):  # noqa: F811
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=3)
    jobs = []
    real_send = pieces_module.EncoderProcess.send
    monkeypatch.setattr(pieces_module.EncoderProcess, "send",
                        lambda self, message: (jobs.append(message) if "format" in message else None,
                                               real_send(self, message))[1])
    outdir = tmp_path / "chapters"
    outdir.mkdir()
    run_book(book, book.selected(), engine, voice, BookOptions(outdir=outdir, format_name="ogg", loudness=None))
    # the first once it is made, the second while it is made (after the first, the gain is known);
    # two children take them, so either job may reach its child first
    made = {bool(job.get("stream")): (job["format"], Path(job.get("final_wav") or job["wav"]).name) for job in jobs}
    assert len(jobs) == 2 and made == {False: ("ogg", "0001.wav"), True: ("ogg", "0002.wav")}
    assert sorted(p.name for p in outdir.iterdir()) == ["01-chapter-1.ogg", "02-chapter-2.ogg", "chapters.json"]


# ---- the child process ---------------------------------------------------------------------


def child(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voiceclone_cli.book.encoder"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_the_encoder_answers_a_damaged_chapter_with_an_error_line(tmp_path):
    broken = tmp_path / "0001.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    proc = child(tmp_path)
    job = {"target": str(tmp_path / "p.m4a"), "wav": str(broken), "gain_db": 0.0, "lead": 0, "tail": 0,
           "format": "m4b", "rate": 24000}
    out, err = proc.communicate(json.dumps(job) + "\n", timeout=60)
    answer = json.loads(out)
    assert "cannot read the chapter audio" in answer["error"] and "again" in answer["hint"]
    assert proc.returncode == 0 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [broken]  # no piece, no temp file


def test_sigterm_stops_the_encoder_mid_piece_without_leaving_a_file(tmp_path):
    long_wav = tmp_path / "0001.wav"
    sf.write(long_wav, (np.random.default_rng(0).standard_normal(24000 * 1200) * 0.1).astype(np.float32),
             24000, subtype="PCM_16")  # 20 minutes: several seconds of encoding
    proc = child(tmp_path)
    job = {"target": str(tmp_path / "p.m4a"), "wav": str(long_wav), "gain_db": 0.0, "lead": 0, "tail": 0,
           "format": "m4b", "rate": 24000}
    proc.stdin.write(json.dumps(job) + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60  # a hang detector, not a pacing sleep
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=60)  # drains the pipes: a full one cannot stall it
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
        pytest.fail(f"the encoder did not stop on SIGTERM; it said: {err[-2000:]}")
    assert proc.returncode == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.wav"]


def test_children_are_stopped_together_and_end_at_once(tmp_path):
    """The run's end waits for the slowest encoder, not for each in turn: every child is asked
    to stop before any is waited for, and an idle child ends without the interpreter's teardown."""
    processes = [pieces_module.EncoderProcess() for _ in range(3)]
    calls = []
    for number, process in enumerate(processes):
        for name in ("_ask_to_stop", "_wait_stopped"):
            method = getattr(process, name)
            setattr(process, name, lambda method=method, name=name, number=number: (calls.append((name, number)), method()))
    for process in processes:  # each child is up and waiting for a job
        assert process._child.poll() is None
    pieces_module.stop_all(processes)
    asks = [i for i, (name, _) in enumerate(calls) if name == "_ask_to_stop"]
    waits = [i for i, (name, _) in enumerate(calls) if name == "_wait_stopped"]
    assert len(asks) == len(waits) == 3 and max(asks) < min(waits)
    assert all(process._child.returncode is not None for process in processes)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_once_encoding(proc: subprocess.Popen, work: Path, pattern: str, how: int) -> list[int]:
    """Signal a book run once a file matching ``pattern`` is in its work folder; wait until it
    and its encoders have ended; return the encoders' PIDs."""
    try:
        deadline = time.monotonic() + 60  # a hang detector, not a pacing sleep
        while not list(work.glob(pattern)):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, f"no {pattern} was ever written"
            time.sleep(0.02)
        encoders = children_of(proc.pid)
        assert encoders
        proc.send_signal(how)
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30  # an orphaned encoder ends when its stdin closes
    while any(alive(pid) for pid in encoders):
        assert time.monotonic() < deadline, "an encoder outlived its book run"
        time.sleep(0.02)
    return encoders


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_sigterm_mid_book_stops_the_encoders_too(server, sample_wav, tmp_path):
    from tests.fakeserver import Fault
    from tests.test_book_resume import run_book_process
    from tests.test_entrypoint import env_for

    server.state.rate = 8000
    server.fail(*[Fault("slow", delay=0)] * 8, *[Fault("slow", delay=60)] * 40)  # chapters 1-2, then a hang
    env = env_for(server, VOICECLONE_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    out = tmp_path / "book.m4b"
    work = tmp_path / ".book.m4b.voiceclone-book"
    # the child that encoded chapter 1 is waiting for more
    encoders = kill_once_encoding(run_book_process(out, sample_wav, env), work, "000[12]-*.m4a", signal.SIGTERM)
    assert not out.exists()
    # The run itself died by SIGTERM's default action (this script installs no handler), so its
    # own temp file may stay for the next run to remove; an encoder's never does.
    assert not [p for p in work.glob(".*.part") if any(f".{pid}-" in p.name for pid in encoders)]


def test_an_encoder_that_cannot_start_is_one_clear_error_and_the_chapters_stay(engine_and_voice, tmp_path, monkeypatch):  # noqa: F811
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=2)
    options = BookOptions(output=tmp_path / "book.m4b", format_name="m4b")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(OutputError, match="cannot start the audio encoder"):
        run_book(book, book.selected(), engine, voice, options)
    # It fails as the second chapter's piece is to be encoded while it is spoken: before paying
    # for that chapter; the first, made and paid for, stays for the next run.
    assert not options.output.exists() and len(list(work_folder(options).glob("*.json"))) == 1


def test_a_piece_that_cannot_be_written_is_one_error_with_a_way_on_and_no_temp_file(tmp_path):
    import errno

    from voiceclone_cli.output.chapters import encode_aac

    def blocks():
        yield np.zeros(4096, dtype=np.float32)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError) as caught:
        encode_aac(tmp_path / "0001-x.m4a", blocks(), 24000)
    assert "No space left on device" in str(caught.value) and "run the same command again" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_piece_is_removed_and_the_next_run_encodes_it_again(engine_and_voice, api_env, tmp_path, monkeypatch):  # noqa: F811
    import voiceclone_cli.output.chapters as chapters

    engine, voice = engine_and_voice
    book = make_book(chapters=3, sentences=3)
    options = BookOptions(output=tmp_path / "book.m4b", format_name="m4b")
    original = chapters.M4bJoin.finish
    monkeypatch.setattr(chapters.M4bJoin, "finish", lambda *a, **k: (_ for _ in ()).throw(OutputError("stop")))
    with pytest.raises(OutputError):
        run_book(book, book.selected(), engine, voice, options)
    monkeypatch.setattr(chapters.M4bJoin, "finish", original)
    first = sorted(work_folder(options).glob("*.m4a"))[0]
    first.write_bytes(b"not an mp4 at all")
    with pytest.raises(OutputError, match="damaged") as caught:
        run_book(book, book.selected(), engine, voice, options)
    assert "run the same command again" in caught.value.hint and not first.exists()
    sent = len(api_env.requests)
    run_book(book, book.selected(), engine, voice, options)
    assert len(api_env.requests) == sent and options.output.exists()  # encoded again, nothing paid again


# ---- pieces encoded while their chapter is made ------------------------------------------


def _growing_chapter(tmp_path: Path, stream, seconds: float = 3.0, rate: int = 24000):
    """Write a chapter WAV block by block as the book does, telling ``stream`` as it grows."""
    from voiceclone_cli.output.sinks import AudioFileSink

    rng = np.random.default_rng(3)
    sink = AudioFileSink(tmp_path / "chapter.wav")
    sink.open(rate)
    stream.start(sink.temp_path, sink.path)
    for _ in range(int(seconds * 4)):
        sink.write((rng.standard_normal(rate // 4) * 0.1).astype(np.float32))
        stream.grown(sink.frames)
    sink.close()
    return sink.path, sink.frames


@pytest.fixture
def encoder():
    """An encoder child, and the thread that reads its answers to streamed pieces."""
    from concurrent.futures import ThreadPoolExecutor

    process, answers = pieces_module.EncoderProcess(), ThreadPoolExecutor(1)
    yield process, answers
    process.stop()
    answers.shutdown()


def _encode_whole(process, wav: Path, target: Path, format_name: str = "m4b", gain_db: float = 0.0,
                  lead: int = 0, tail: int = 0) -> None:
    process.run({"target": str(target), "wav": str(wav), "gain_db": gain_db, "lead": lead, "tail": tail,
                 "format": format_name, "rate": 24000})


@pytest.mark.parametrize("format_name", ["m4b", "flac"])
def test_a_streamed_piece_is_byte_for_byte_the_piece_encoded_from_the_whole_chapter(tmp_path, encoder, format_name):
    process, answers = encoder
    ext = "m4a" if format_name == "m4b" else format_name
    stream = pieces_module.PieceStream(process, answers, tmp_path / f"streaming.{ext}", -3.0, 1000,
                                       format_name, 24000)
    wav, frames = _growing_chapter(tmp_path, stream)
    stream.finish(frames, 777, tmp_path / f"streamed.{ext}").result(timeout=60)
    _encode_whole(process, wav, tmp_path / f"whole.{ext}", format_name, -3.0, 1000, 777)
    assert (tmp_path / f"streamed.{ext}").read_bytes() == (tmp_path / f"whole.{ext}").read_bytes()
    assert not (tmp_path / f"streaming.{ext}").exists()


def test_a_stream_given_up_leaves_nothing_and_the_child_goes_on_with_the_next_job(tmp_path, encoder):
    process, answers = encoder
    stream = pieces_module.PieceStream(process, answers, tmp_path / "streaming.m4a", 0.0, 0, "m4b", 24000)
    wav, _frames = _growing_chapter(tmp_path, stream)
    stream.abort()
    answers.submit(lambda: None).result(timeout=60)  # the child's answer to the abort is in
    _encode_whole(process, wav, tmp_path / "next.m4a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chapter.wav", "next.m4a"]


def test_a_stream_that_fails_mid_way_is_one_error_and_the_child_stays_in_step(tmp_path, encoder):
    process, answers = encoder
    stream = pieces_module.PieceStream(process, answers, tmp_path / "streaming.m4a", 0.0, 0, "m4b", 24000)
    wav, frames = _growing_chapter(tmp_path, stream)
    ending = stream.finish(frames + 24000, 0, tmp_path / "streamed.m4a")  # more than the file holds
    with pytest.raises(OutputError, match="cannot read the chapter audio"):
        ending.result(timeout=60)
    _encode_whole(process, wav, tmp_path / "next.m4a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chapter.wav", "next.m4a"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_run_killed_while_its_last_chapter_is_streamed_leaves_no_encoder_and_no_file(server, sample_wav, tmp_path, how):
    from tests.fakeserver import Fault
    from tests.test_entrypoint import env_for

    script = """
import sys
from pathlib import Path
from tests.test_book import make_book
from voiceclone_cli.book.job import BookOptions, run_book
import voiceclone_cli as vc

out, sample = Path(sys.argv[1]), Path(sys.argv[2])
engine = vc.get_engine("remote", max_workers=2)
book = make_book(chapters=2, sentences=30)
run_book(book, book.selected(), engine, engine.prepare_voice(vc.prepare_sample(sample)),
         BookOptions(output=out, format_name="m4b", jobs=2))
"""
    server.state.rate = 8000
    server.fail(*[Fault("slow", delay=0)] * 6, *[Fault("slow", delay=60)] * 40)  # chapter 1 and a bit, then a hang
    env = env_for(server, VOICECLONE_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    out, work = tmp_path / "book.m4b", tmp_path / ".book.m4b.voiceclone-book"
    proc = subprocess.Popen([sys.executable, "-c", script, str(out), str(sample_wav)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    encoders = kill_once_encoding(proc, work, ".0002-stream.m4a.*", how)  # the last piece, being streamed
    assert not out.exists()
    assert not [p for p in work.glob(".*") if any(f".{pid}-" in p.name for pid in encoders)]
    assert not (work / "0002-stream.m4a").exists()

    answered = {r.fields["text"] for r in server.requests if r.status == 200}
    with server.lock:
        server.state.faults.clear()
    server.requests.clear()
    again = subprocess.run([sys.executable, "-c", script, str(out), str(sample_wav)], env=env, cwd=REPO,
                           capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()
    assert answered and not answered & {r.fields["text"] for r in server.requests}  # none paid twice
    assert out.exists() and not work.exists()


def test_an_m4b_that_cannot_be_joined_is_one_error_with_a_way_on_and_no_file(tmp_path, monkeypatch):
    import errno

    from voiceclone_cli.output.chapters import BookInfo, M4bJoin, encode_aac

    piece = tmp_path / "work" / "0001-x.m4a"
    piece.parent.mkdir()
    frames = encode_aac(piece, [np.zeros(4 * AAC_FRAME, dtype=np.float32)], 24000)
    import av

    real_open = av.open

    def full(path, mode="r", **kwargs):  # the disk fills as the joined file is started
        if mode == "w":
            Path(path).write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, **kwargs)

    monkeypatch.setattr(av, "open", full)
    join = M4bJoin(tmp_path / "book.m4b", BookInfo("Title", "Author", None, None))
    with pytest.raises(OutputError) as caught:
        join.append(piece, frames)
    assert "No space left on device" in str(caught.value) and "run the same command again" in caught.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
