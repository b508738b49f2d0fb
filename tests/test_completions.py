"""Shell completions are generated from the app and must not drift from it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import generate_completions  # noqa: E402


def test_committed_completions_match_the_app():
    rendered = generate_completions.render()
    for name, text in rendered.items():
        committed = (REPO / "completions" / name).read_text()
        assert committed == text, f"completions/{name} is stale: run python scripts/generate_completions.py"


def bash_complete(words: list[str]) -> list[str]:
    script = REPO / "completions" / "voiceclone.bash"
    line = " ".join(words)
    cmd = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
           "_voiceclone; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True).stdout
    return [w for w in out.splitlines() if w]


def test_bash_completes_commands_options_and_keys():
    assert set(bash_complete(["voiceclone", "''"])) >= {"say", "config"}
    assert "--sample" in bash_complete(["voiceclone", "say", "--s"])
    assert set(bash_complete(["voiceclone", "config", "set", "''"])) == {"api-key", "endpoint", "timeout", "retries", "engine", "cache-size"}


@pytest.mark.parametrize("words", [["say", "--sample"], ["say", "-s"], ["say", "-o"], ["say", "-f"],
                                   ["batch", "in.txt", "--join"], ["batch", "in.txt", "-d"]])
def test_bash_completes_files_for_path_options(tmp_path, monkeypatch, words):
    (tmp_path / "me.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert bash_complete(["voiceclone", *words, "m"]) == ["me.wav"]


def test_bash_completes_option_values_from_the_code():
    from voiceclone_cli.commands.batch import InputFormat
    from voiceclone_cli.output.formats import FORMATS

    assert bash_complete(["voiceclone", "say", "--format", "''"]) == list(FORMATS) == ["wav", "flac", "ogg", "mp3"]
    assert bash_complete(["voiceclone", "say", "--format", "f"]) == ["flac"]
    assert bash_complete(["voiceclone", "batch", "x.txt", "--input-format", "''"]) == [f.value for f in InputFormat]
    assert bash_complete(["voiceclone", "batch", "x.txt", "--input-format", "''"]) == ["auto", "text", "jsonl", "script"]


def test_zsh_and_fish_offer_the_same_values():
    rendered = generate_completions.render()
    assert "'--format[Output format. Default\\: from the -o extension, else wav.]:value:(wav flac ogg mp3)'" in rendered["voiceclone.zsh"]
    assert ":value:(auto text jsonl script)'" in rendered["voiceclone.zsh"]
    fish = rendered["voiceclone.fish"].splitlines()
    assert any("-l format -r -f -a 'wav flac ogg mp3'" in line for line in fish)
    assert any("-l input-format -r -f -a 'auto text jsonl script'" in line for line in fish)
    assert any("-s s -r -F" in line for line in fish)  # -s/--sample still completes files


@pytest.mark.parametrize("words", [["say"], ["config", "set"], ["cache"]])
def test_version_is_offered_wherever_help_is(words):
    offered = bash_complete(["voiceclone", *words, "-"])
    assert {"--help", "-h", "--version", "-V"} <= set(offered)


@pytest.mark.parametrize("shell, args", [("zsh", ["-n"]), ("fish", ["--no-execute"])])
def test_other_shells_parse_their_script(shell, args):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    script = REPO / "completions" / f"voiceclone.{shell}"
    subprocess.run([shell, *args, str(script)], check=True)
