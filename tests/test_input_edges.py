"""Awkward inputs end to end: each is refused with its reason and exit code before any request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voiceclone_cli.batch.naming import NameTemplate, check_output_name
from voiceclone_cli.errors import InputError, UsageError


def write_jsonl(path: Path, objects: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def texts_sent(server) -> list[str]:
    return [r.fields.get("text") for r in server.requests]


# ---- output names ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [" intro", "intro ", "ch1 /intro", " ch1/intro", "ch1/\u3000intro", "intro\u00a0"])
def test_names_with_leading_or_trailing_spaces_are_refused(name):
    with pytest.raises(InputError, match="starts or ends with a space"):
        check_output_name(name)


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
