"""--dry-run: every check of a real run, the cost it would have, and nothing sent or written."""

from __future__ import annotations

import json

import pytest

from tests.fakeserver import VALID_KEY
from tests.test_response_cache import LONG, texts_sent

TEXT = LONG[:3500]


def snapshot(folder):
    return sorted((p.relative_to(folder), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_say_dry_run_predicts_the_real_run_without_a_key(cli, server, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_ENDPOINT", server.url)  # and no key: a dry run needs none
    out = tmp_path / "out.wav"
    r = cli(["say", "-s", sample_wav, TEXT, "-o", out, "--dry-run", "--json"])
    assert r.code == 0, r.stderr
    plan = json.loads(r.out)
    assert server.requests == [] and list(tmp_path.iterdir()) == []
    assert plan["dry_run"] is True and plan["cached_chunks"] == 0 and plan["output"] == str(out)
    assert plan["audio_minutes_estimate"] == pytest.approx(plan["characters"] / 15 / 60, abs=0.01)

    monkeypatch.setenv("VOICECLONE_API_KEY", VALID_KEY)
    assert cli(["say", "-s", sample_wav, TEXT, "-o", out]).code == 0
    sent = texts_sent(server)
    assert (plan["requests"], plan["chunks"], plan["characters"]) == (len(sent), len(sent), sum(map(len, sent)))

    again = json.loads(cli(["say", "-s", sample_wav, TEXT, "-o", out, "--dry-run", "--json", "--speed", "2"]).out)
    assert again["audio_minutes_estimate"] == pytest.approx(plan["audio_minutes_estimate"] / 2, abs=0.01)
    cached = json.loads(cli(["say", "-s", sample_wav, TEXT, "-o", out, "--dry-run", "--json"]).out)
    assert (cached["requests"], cached["cached_chunks"]) == (0, plan["chunks"])
    no_cache = json.loads(cli(["say", "-s", sample_wav, TEXT, "-o", out, "--dry-run", "--json", "--no-cache"]).out)
    assert no_cache["requests"] == plan["chunks"]
    assert len(server.requests) == len(sent)


def test_say_dry_run_for_people_writes_stderr_only(cli, server, sample_wav, tmp_path):
    r = cli(["say", "-s", sample_wav, "Hello there.", "-o", tmp_path / "o.wav", "--dry-run", "--endpoint", server.url])
    assert r.code == 0 and r.stdout == b""
    assert "dry run" in r.stderr and "requests" in r.stderr and "15 characters a second" in r.stderr
    assert server.requests == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, code", [
    (["-o", "{tmp}/missing/o.wav"], 7),  # the output could not be written
    (["-o", "{tmp}/o.wav", "--speed", "3"], 2),
    (["-o", "{tmp}/o.wav", "--format", "aiff"], 2),
])
def test_say_dry_run_refuses_what_a_real_run_refuses(cli, server, sample_wav, tmp_path, args, code):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = cli(["say", "-s", sample_wav, "Hello.", "--dry-run", "--endpoint", server.url, *args])
    assert r.code == code, r.stderr
    assert server.requests == [] and list(tmp_path.iterdir()) == []


def test_say_dry_run_refuses_a_bad_sample_and_empty_text(cli, server, tmp_path):
    short = tmp_path / "short.wav"
    import numpy as np
    import soundfile as sf

    sf.write(short, np.zeros(8000, dtype=np.float32), 8000)
    r = cli(["say", "-s", short, "Hello.", "--dry-run", "-o", tmp_path / "o.wav", "--endpoint", server.url])
    assert r.code == 3, r.stderr
    r = cli(["say", "-s", short, "   ", "--dry-run", "-o", tmp_path / "o.wav", "--endpoint", server.url])
    assert r.code == 3 and "empty" in r.stderr
    assert server.requests == [] and sorted(p.name for p in tmp_path.iterdir()) == ["short.wav"]


def test_batch_dry_run_counts_skipped_and_invalid_lines_and_touches_nothing(cli, api_env, sample_wav, tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "s.jsonl"
    lines = [{"text": "Alpha."}, {"text": "Bravo."}, {"text": "Charlie.", "sped": 1.2},
             {"text": TEXT, "output": "long/one"}, {"text": "Delta.", "speed": 9}]
    script.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    args = ["batch", script, "-s", sample_wav, "-d", out, "--json"]

    r = cli([*args, "--dry-run"])
    assert r.code == 0, r.stderr
    assert api_env.requests == [] and not out.exists()
    plan = json.loads(r.out)
    assert (plan["lines"], plan["to_do"], plan["skipped"], plan["invalid"]) == (5, 3, 0, 2)
    assert [bad["line"] for bad in plan["invalid_lines"]] == [3, 5]
    assert "sped" in plan["invalid_lines"][0]["reason"] and plan["invalid_lines"][0]["exit_code"] == 3

    assert cli(args).code == 10  # the real run: the same lines fail, the rest are sent
    sent = texts_sent(api_env)
    assert (plan["requests"], plan["characters"]) == (len(sent), sum(map(len, sent)))

    (out / "1.wav").unlink()  # one line to redo: its answer is in the response cache
    before = snapshot(out)
    r = cli([*args, "--dry-run"])
    assert r.code == 0, r.stderr
    again = json.loads(r.out)
    assert (again["to_do"], again["skipped"], again["invalid"]) == (1, 2, 2)
    assert (again["requests"], again["cached_chunks"]) == (0, 1)
    assert snapshot(out) == before and len(api_env.requests) == len(sent)


def test_batch_dry_run_needs_no_key_and_refuses_job_level_problems(cli, server, sample_wav, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("One.\nTwo.\n", encoding="utf-8")
    base = ["batch", script, "-s", sample_wav, "--dry-run", "--endpoint", server.url]
    r = cli([*base, "-d", tmp_path / "new" / "deeper"])
    assert r.code == 0 and "to do" in r.stderr and "2" in r.stderr
    (tmp_path / "file").write_text("x")
    assert cli([*base, "-d", tmp_path / "file"]).code == 7
    assert cli(["batch", tmp_path / "missing.txt", "-s", sample_wav, "-d", tmp_path / "o", "--dry-run"]).code == 3
    assert server.requests == [] and sorted(p.name for p in tmp_path.iterdir()) == ["file", "s.txt"]
