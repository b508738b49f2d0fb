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
    assert set(bash_complete(["voiceclone", "config", "set", "''"])) == {"api-key", "endpoint", "timeout", "retries", "cache-size"}


def test_bash_completes_files_for_path_options(tmp_path, monkeypatch):
    (tmp_path / "me.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert bash_complete(["voiceclone", "say", "--sample", "m"]) == ["me.wav"]


@pytest.mark.parametrize("shell, args", [("zsh", ["-n"]), ("fish", ["--no-execute"])])
def test_other_shells_parse_their_script(shell, args):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    script = REPO / "completions" / f"voiceclone.{shell}"
    subprocess.run([shell, *args, str(script)], check=True)
