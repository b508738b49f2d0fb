"""``voiceclone batch`` end to end through ``main`` against the loopback server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import dead_pid, read_audio, texts_sent, voice, write_jsonl, write_lines
from tests import samples
from tests.fakeserver import Fault
from voiceclone_cli.output.atomic import temp_path_for
from voiceclone_cli.batch.manifest import MANIFEST_NAME, Manifest

OTHER_VOICE = "p227/p227_023.wav"


def wavs(outdir: Path) -> list[str]:
    return sorted(p.relative_to(outdir).as_posix() for p in outdir.rglob("*.wav"))


def spoken_seconds(text: str, speed: float = 1.0) -> float:
    """Length of the fake voice for one line once its edges are trimmed (see test_cli_say)."""
    return len(text) * 0.02 / speed + 0.24


def run_batch(cli, *args, stdin: bytes = b""):
    return cli(["batch", *map(str, args)], stdin=stdin)


def summary_of(result) -> dict:
    return json.loads(result.out)


def test_one_wav_per_line_named_by_padded_line_number(cli, api_env, sample_wav, tmp_path):
    lines = [f"Line number {i}." for i in range(1, 11)]
    script = write_lines(tmp_path / "script.txt", ["# title", "", *lines, "", "  # the end"])
    out = tmp_path / "out"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert r.code == 0, r.stderr
    # 14 lines in the file: two digits, and the numbers are the lines' own (comments count).
    assert wavs(out) == [f"{n:02d}.wav" for n in range(3, 13)]
    assert sorted(texts_sent(api_env)) == sorted(lines)
    for n, text in zip(range(3, 13), lines, strict=True):
        x, rate = read_audio(out / f"{n:02d}.wav")
        assert rate == 24000 and len(x) / rate == pytest.approx(spoken_seconds(text), abs=0.03)
    summary = summary_of(r)
    assert summary["status"] == "complete" and summary["failed_file"] is None
    assert (summary["total"], summary["done"], summary["skipped"], summary["failed"]) == (10, 10, 0, 0)
    assert summary["requests"] == 10 and summary["engine"] == "remote"
    assert summary["audio_seconds"] == pytest.approx(sum(spoken_seconds(t) for t in lines), abs=0.2)
    assert "batch complete" in r.stderr  # the summary table, on stderr
    assert not (out / "failed.jsonl").exists()


def test_name_template_fields(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", ["Hello, World!", "# skip", "Second line here."])
    out = tmp_path / "out"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--name-template", "{n}_{line:03d}-{slug}")
    assert r.code == 0, r.stderr
    assert wavs(out) == ["1_001-hello-world.wav", "2_003-second-line-here.wav"]


def test_jsonl_overrides_reach_the_server_and_the_files(cli, api_env, sample_wav, tmp_path):
    (tmp_path / "voices").mkdir()
    other = tmp_path / "voices" / "bob.wav"
    other.write_bytes(voice(OTHER_VOICE).read_bytes())
    script = write_jsonl(tmp_path / "d.jsonl", [
        {"text": "Default voice."},
        {"text": "Fast and high.", "speed": 1.5, "pitch": 0.5, "output": "scene1/fast"},
        {"text": "Bob speaks.", "sample": "voices/bob.wav", "_speaker": "Bob"},
    ])
    out = tmp_path / "out"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--speed", "0.8")
    assert r.code == 0, r.stderr
    assert wavs(out) == ["1.wav", "3.wav", "scene1/fast.wav"]
    sent = {r.fields["text"]: r for r in api_env.requests}
    assert sent["Default voice."].fields["speed"] == "0.8" and "pitch" not in sent["Default voice."].fields
    assert sent["Fast and high."].fields["speed"] == "1.5" and sent["Fast and high."].fields["pitch"] == "0.5"
    assert sent["Bob speaks."].filename == "bob.wav"
    assert sent["Default voice."].filename == Path(sample_wav).with_suffix(".wav").name
    x, rate = read_audio(out / "scene1" / "fast.wav")
    assert len(x) / rate == pytest.approx(spoken_seconds("Fast and high.", 1.5), abs=0.03)


def test_outputs_outside_outdir_are_refused_per_line(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere")
    script = write_jsonl(tmp_path / "d.jsonl", [
        {"text": "Up and out.", "output": "../escaped.wav"},
        {"text": "Absolute.", "output": str(tmp_path / "abs.wav")},
        {"text": "Through a link.", "output": "link/x.wav"},
        {"text": "Hidden.", "output": ".voiceclone-manifest.jsonl"},
        {"text": "Fine.", "output": "ok/fine.wav"},
    ])
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert r.code == 10, r.stderr
    assert texts_sent(api_env) == ["Fine."]
    assert wavs(out) == ["ok/fine.wav"]
    assert not (tmp_path / "escaped.wav").exists() and not (tmp_path / "abs.wav").exists()
    assert list((tmp_path / "elsewhere").iterdir()) == []
    reasons = {f["line"]: f["reason"] for f in summary_of(r)["failures"]}
    assert "points outside OUTDIR" in reasons[1] and "absolute path" in reasons[2]
    assert "symbolic link" in reasons[3] and "hidden name" in reasons[4]


def test_bad_lines_fail_alone_with_their_reason(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "d.jsonl", [
        json.dumps({"text": "Good one."}),
        json.dumps({"text": "   \u0007  "}),
        json.dumps({"text": "Typo.", "sped": 1.2}),
        json.dumps({"text": "Too fast.", "speed": 4}),
        "{broken",
        json.dumps({"text": "Same name.", "output": "1"}),
        json.dumps({"text": "Good two."}),
    ])
    out = tmp_path / "out"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert r.code == 10
    assert sorted(texts_sent(api_env)) == ["Good one.", "Good two."]  # nothing invalid was sent
    failures = {f["line"]: f for f in summary_of(r)["failures"]}
    assert sorted(failures) == [2, 3, 4, 5, 6]
    assert "the text is empty" in failures[2]["reason"]
    assert 'unknown key "sped"' in failures[3]["reason"]
    assert '"speed" 4 is outside' in failures[4]["reason"]
    assert "not valid JSON" in failures[5]["reason"]
    assert "already used by line 1" in failures[6]["reason"]
    assert all(f["exit_code"] == 3 for f in failures.values())
    assert "5 of 7 lines failed" in r.stderr and "failed.jsonl" in r.stderr
    assert "line" in r.stderr and "sped" in r.stderr  # the failed-lines table


def test_a_bad_per_line_sample_fails_only_its_lines(cli, api_env, sample_wav, tmp_path):
    short = samples.short(tmp_path)
    script = write_jsonl(tmp_path / "d.jsonl", [
        {"text": "Main voice."},
        {"text": "Short sample one.", "sample": str(short)},
        {"text": "Missing sample.", "sample": "nowhere.wav"},
        {"text": "Short sample two.", "sample": str(short)},
    ])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--json")
    assert r.code == 10
    assert texts_sent(api_env) == ["Main voice."]
    reasons = {f["line"]: f["reason"] for f in summary_of(r)["failures"]}
    assert reasons[2] == reasons[4] and "at least 5 s" in reasons[2] and "short.wav" in reasons[2]
    assert "sample not found" in reasons[3]


def test_jsonl_without_default_sample(cli, api_env, sample_wav, tmp_path):
    script = write_jsonl(tmp_path / "d.jsonl", [{"text": "Own voice.", "sample": str(sample_wav)}, {"text": "None."}])
    r = run_batch(cli, script, "-d", tmp_path / "out", "--json")
    assert r.code == 10
    assert texts_sent(api_env) == ["Own voice."]
    assert "no voice for this line" in summary_of(r)["failures"][0]["reason"]


def test_a_429_pauses_every_worker(cli, api_env, sample_wav, tmp_path):
    api_env.state.latency = 0.05  # both workers have a request out when the 429 comes back
    api_env.fail(Fault("status", status=429, retry_after="1"))
    script = write_lines(tmp_path / "s.txt", [f"Sentence {i}." for i in range(8)])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "2", "--json")
    assert r.code == 0, r.stderr
    assert summary_of(r)["retries"] == 1
    (limited,) = [q for q in api_env.requests if q.status == 429]
    paused_from = limited.time + api_env.state.latency  # when the 429 was answered
    arrivals = [q.time - paused_from for q in api_env.requests if q is not limited]
    # Requests already on their way may land just after the answer; then nothing, from either
    # worker, until the second is over.
    assert not [t for t in arrivals if 0.2 < t < 0.95], arrivals
    assert len([t for t in arrivals if t >= 0.95]) >= 6
    assert len(api_env.requests) == 9


def test_resume_skips_done_lines_and_redoes_changed_ones(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    script = write_lines(tmp_path / "s.txt", ["Alpha.", "Bravo.", "Charlie.", "Delta."])
    assert run_batch(cli, script, "-s", sample_wav, "-d", out).code == 0
    api_env.requests.clear()

    write_lines(script, ["Alpha.", "Bravo, changed.", "Charlie.", "Delta."])
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert r.code == 0, r.stderr
    assert texts_sent(api_env) == ["Bravo, changed."]
    assert (summary_of(r)["done"], summary_of(r)["skipped"]) == (1, 3)
    x, rate = read_audio(out / "2.wav")
    assert len(x) / rate == pytest.approx(spoken_seconds("Bravo, changed."), abs=0.03)
    api_env.requests.clear()

    # A different speed is a different line; a damaged file is redone (from the response
    # cache: its chunk was paid for already); --force redoes all.
    (out / "3.wav").write_bytes((out / "3.wav").read_bytes()[:500])
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--json")
    assert (summary_of(r)["done"], summary_of(r)["cache_hits"], texts_sent(api_env)) == (1, 1, [])
    assert read_audio(out / "3.wav")[0].size > 0
    assert run_batch(cli, script, "-s", sample_wav, "-d", out, "--speed", "1.2").code == 0
    assert len(api_env.requests) == 4
    api_env.requests.clear()
    assert run_batch(cli, script, "-s", sample_wav, "-d", out, "--speed", "1.2", "--force", "--no-cache").code == 0
    assert len(api_env.requests) == 4
    with Manifest.open(out) as manifest:
        assert manifest.finished("2.wav").line == 2


def test_another_sample_redoes_the_lines(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    script = write_lines(tmp_path / "s.txt", ["Alpha.", "Bravo."])
    assert run_batch(cli, script, "-s", sample_wav, "-d", out).code == 0
    api_env.requests.clear()
    assert run_batch(cli, script, "-s", voice(OTHER_VOICE), "-d", out).code == 0
    assert len(api_env.requests) == 2


def test_stale_temp_files_are_removed(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = temp_path_for(out / "1.wav", pid=dead_pid())
    stale.write_bytes(b"half a file")
    script = write_lines(tmp_path / "s.txt", ["Alpha."])
    r = run_batch(cli, script, "-s", sample_wav, "-d", out)
    assert r.code == 0 and "removed 1 unfinished temp file" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "1.wav"]


def test_temp_files_of_a_running_process_are_never_removed(cli, api_env, sample_wav, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        live = temp_path_for(out / "sub" / "9.wav", pid=alive.pid)
        live.parent.mkdir()
        live.write_bytes(b"being written by another run")
        r = run_batch(cli, write_lines(tmp_path / "s.txt", ["Alpha."]), "-s", sample_wav, "-d", out)
        assert r.code == 0 and "removed" not in r.stderr
        assert live.read_bytes() == b"being written by another run"
    finally:
        alive.communicate(b"")


def test_failed_jsonl_round_trips(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    lines = [f"Line {word}." for word in ("one", "two", "three", "four", "five")]
    script = write_lines(tmp_path / "s.txt", lines)
    api_env.state.refused_texts = {"two": 422, "four": 422}
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--speed", "1.1")
    assert r.code == 10
    failed = out / "failed.jsonl"
    entries = [json.loads(x) for x in failed.read_text().splitlines()]
    assert [(e["text"], e["output"], e["_line"]) for e in entries] == [
        ("Line two.", "2.wav", 2), ("Line four.", "4.wav", 4),
    ]
    assert all("HTTP 422" in e["_error"] for e in entries)

    api_env.state.refused_texts.clear()  # the cause is fixed
    api_env.requests.clear()
    r = run_batch(cli, failed, "-s", sample_wav, "-d", out, "--speed", "1.1", "--json")
    assert r.code == 0, r.stderr
    assert sorted(texts_sent(api_env)) == ["Line four.", "Line two."]
    assert wavs(out) == ["1.wav", "2.wav", "3.wav", "4.wav", "5.wav"]
    assert not failed.exists()  # nothing failed any more
    api_env.requests.clear()
    assert run_batch(cli, script, "-s", sample_wav, "-d", out, "--speed", "1.1").code == 0
    assert api_env.requests == []  # the retried lines count as done for the original input


def test_invalid_default_sample_stops_before_any_request(cli, api_env, tmp_path):
    script = write_lines(tmp_path / "s.txt", ["Alpha."])
    r = run_batch(cli, script, "-s", samples.short(tmp_path), "-d", tmp_path / "out")
    assert r.code == 3 and "at least 5 s" in r.stderr
    assert api_env.requests == [] and not (tmp_path / "out").exists()


def test_missing_key_stops_before_any_request(cli, server, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)
    script = write_lines(tmp_path / "s.txt", ["Alpha."])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out")
    assert r.code == 4 and "VOICECLONE_API_KEY" in r.stderr
    assert server.requests == []


def test_a_rejected_key_stops_the_batch(cli, api_env, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_API_KEY", "vc-wrong-key-000000000000")
    script = write_lines(tmp_path / "s.txt", [f"Line {i}." for i in range(20)])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "2", "--json")
    assert r.code == 4 and "API key rejected" in r.stderr
    assert summary_of(r)["status"] == "stopped"
    assert len(api_env.requests) <= 4  # the lines already on their way, no more


def test_fail_fast_exits_with_the_failure_code(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "s.txt", [f"Line {i}." for i in range(1, 21)])
    api_env.state.refused_texts = {"Line 3.": 422}
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "1", "--fail-fast", "--json")
    assert r.code == 3 and "line 3: the service refused the request" in r.stderr
    summary = summary_of(r)
    assert (summary["status"], summary["done"], summary["failed"], summary["not_attempted"]) == ("stopped", 2, 1, 17)
    assert texts_sent(api_env) == ["Line 1.", "Line 2.", "Line 3."]
    assert [json.loads(x)["_line"] for x in (tmp_path / "out" / "failed.jsonl").read_text().splitlines()] == [3]


def test_fail_fast_on_an_invalid_line_sends_nothing_after_it(cli, api_env, sample_wav, tmp_path):
    script = write_lines(tmp_path / "d.jsonl", [json.dumps({"text": "x", "speed": 9}), json.dumps({"text": "y"})])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--fail-fast")
    assert r.code == 3 and "line 1:" in r.stderr
    assert api_env.requests == []


def test_a_service_that_stays_down_stops_the_batch(cli, api_env, sample_wav, tmp_path):
    api_env.fail(*["500"] * 50)
    script = write_lines(tmp_path / "s.txt", [f"Line {i}." for i in range(40)])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "1", "--retries", "0")
    assert r.code == 6 and "5 lines in a row failed" in r.stderr
    assert len(api_env.requests) == 5


def test_isolated_server_errors_do_not_stop_the_batch(cli, api_env, sample_wav, tmp_path):
    api_env.fail("500", "500")  # lines 1 and 2 (one job, no retries), then the service recovers
    script = write_lines(tmp_path / "s.txt", [f"Line {i}." for i in range(1, 7)])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "1", "--retries", "0", "--json")
    assert r.code == 10
    assert (summary_of(r)["done"], summary_of(r)["failed"]) == (4, 2)


def test_join_is_every_line_in_order_with_gaps(cli, api_env, sample_wav, tmp_path):
    api_env.state.rates = [24000, 16000]  # lines at two rates: the join resamples
    lines = ["Short.", "A somewhat longer line.", "Middle one.", "End."]
    script = write_lines(tmp_path / "s.txt", lines)
    out, joined = tmp_path / "out", tmp_path / "all.wav"
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--gap", "0.25", "--json")
    assert r.code == 0, r.stderr
    seconds = [sf.info(out / f"{i}.wav").duration for i in range(1, 5)]
    info = sf.info(joined)
    assert info.duration == pytest.approx(sum(seconds) + 3 * 0.25, abs=0.005)
    assert summary_of(r)["join_seconds"] == pytest.approx(info.duration, abs=0.001)
    x, rate = read_audio(joined)
    gap_start = round(seconds[0] * rate)
    assert np.all(x[gap_start + 10 : gap_start + int(0.25 * rate) - 10] == 0)  # silence between lines
    api_env.requests.clear()
    r = run_batch(cli, script, "-s", sample_wav, "-d", out, "--join", joined, "--gap", "0.25", "--json")
    assert (r.code, summary_of(r)["skipped"], api_env.requests) == (0, 4, [])  # lines already done
    assert sf.info(joined).duration == pytest.approx(info.duration, abs=0.001)  # still join


def test_join_is_not_written_when_lines_failed(cli, api_env, sample_wav, tmp_path):
    api_env.state.refused_texts = {"bad": 422}
    script = write_lines(tmp_path / "s.txt", ["good", "bad"])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--join", tmp_path / "all.wav", "--json")
    assert r.code == 10 and summary_of(r)["join"] is None
    assert not (tmp_path / "all.wav").exists()


def test_stdin_lines(cli, api_env, sample_wav, tmp_path):
    r = run_batch(cli, "-", "-s", sample_wav, "-d", tmp_path / "out", stdin=b"One.\n\nTwo.\n")
    assert r.code == 0, r.stderr
    assert wavs(tmp_path / "out") == ["0001.wav", "0003.wav"]  # unknown count: four digits
    r = run_batch(cli, "-", "-d", tmp_path / "j", stdin=json.dumps({"text": "Json.", "sample": str(sample_wav),
                                                                    "output": "x"}).encode())
    assert r.code == 0, r.stderr
    assert wavs(tmp_path / "j") == ["x.wav"]


def test_a_second_batch_on_the_same_outdir_is_refused(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    script = write_lines(tmp_path / "s.txt", ["Alpha."])
    with Manifest.open(out):
        r = run_batch(cli, script, "-s", sample_wav, "-d", out)
    assert r.code == 7 and "in use by another voiceclone batch" in r.stderr
    assert api_env.requests == []


@pytest.mark.parametrize("args, message", [
    (["--name-template", "{nn}"], "unknown field {nn}"),
    (["--gap", "1"], "--gap only applies with --join"),
    (["--join", "all.mp3"], "the joined file is a WAV"),
    (["-j", "0"], "-j"),
])
def test_usage_errors(cli, api_env, sample_wav, tmp_path, args, message):
    script = write_lines(tmp_path / "s.txt", ["Alpha."])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", *args)
    assert r.code == 2 and message in r.stderr
    assert api_env.requests == []


def test_text_input_needs_a_sample(cli, api_env, tmp_path):
    r = run_batch(cli, write_lines(tmp_path / "s.txt", ["Alpha."]), "-d", tmp_path / "out")
    assert r.code == 2 and "missing --sample" in r.stderr


@pytest.mark.parametrize("content", ["", "\n# only comments\n\n"])
def test_an_input_without_lines_is_refused(cli, api_env, sample_wav, tmp_path, content):
    script = tmp_path / "s.txt"
    script.write_text(content)
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out")
    assert r.code == 3 and "has no lines to speak" in r.stderr
    assert not (tmp_path / "out").exists()
    r = run_batch(cli, "-", "-s", sample_wav, "-d", tmp_path / "out", stdin=content.encode())
    assert r.code == 3 and "stdin has no lines to speak" in r.stderr


def test_many_workers_share_a_rate_limit_without_losing_lines(cli, api_env, sample_wav, tmp_path):
    """Eight workers on a 20 requests/s limit, default retries: the pace keeps every line."""
    api_env.state.rate_limit, api_env.state.rate_limit_burst = 20.0, 4
    script = write_lines(tmp_path / "s.txt", [f"Line {i}." for i in range(40)])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-j", "8", "--json")
    assert r.code == 0, r.stderr
    assert summary_of(r)["done"] == 40
    assert summary_of(r)["retries"] < 20  # each 429 costs a retry; the pace keeps them few


def test_quiet_prints_only_the_error(cli, api_env, sample_wav, tmp_path):
    api_env.state.refused_texts = {"bad": 422}
    script = write_lines(tmp_path / "s.txt", ["good", "bad"])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "-q")
    assert r.code == 10
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("voiceclone: error: 1 of 2 lines failed")


def test_long_lines_are_chunked_and_joined_like_say(cli, api_env, sample_wav, tmp_path):
    # Numbered, so no two chunks are alike (alike ones would come from the response cache).
    long_line = "".join(f"Sentence {i} is part of a long line that needs several requests. " for i in range(40))
    script = write_lines(tmp_path / "s.txt", [long_line.strip()])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out")
    assert r.code == 0, r.stderr
    sent = texts_sent(api_env)
    assert len(sent) == 3 and all(len(t) <= 1000 for t in sent)
    assert " ".join(sent).split() == long_line.split()
    assert [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")] == ["1.wav"]


def test_outdir_that_is_a_file(cli, api_env, sample_wav, tmp_path):
    (tmp_path / "file").write_text("x")
    r = run_batch(cli, write_lines(tmp_path / "s.txt", ["A."]), "-s", sample_wav, "-d", tmp_path / "file")
    assert r.code == 7 and "is a file, not a folder" in r.stderr


def test_the_key_is_scrubbed_from_reasons(cli, api_env, sample_wav, tmp_path):
    """A server whose error detail echoes the key: no output of ours repeats it."""
    key = os.environ["VOICECLONE_API_KEY"]
    api_env.state.refused_texts = {key: 422}  # the detail quotes the refused text, key and all
    script = write_jsonl(tmp_path / "d.jsonl", [{"text": f"Say {key} aloud."}])
    r = run_batch(cli, script, "-s", sample_wav, "-d", tmp_path / "out", "--json")
    assert r.code == 10 and "Traceback" not in r.stderr
    (entry,) = [json.loads(x) for x in (tmp_path / "out" / "failed.jsonl").read_text().splitlines()]
    assert "HTTP 422" in entry["_error"] and key not in entry["_error"]
    assert "****" in summary_of(r)["failures"][0]["reason"]
    assert key not in r.stderr + r.out
