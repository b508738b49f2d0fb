"""Awkward inputs end to end: each is refused with its reason and exit code before any request."""

from __future__ import annotations

import json
import math
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
