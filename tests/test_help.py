"""Every command's --help shows a real example, and --help never loads the heavy libraries."""

import subprocess
import sys

import pytest
import typer

from voiceclone_cli.cli import app


def all_command_paths():
    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, path + [name])

    walk(typer.main.get_command(app), [])
    return paths


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "voiceclone")
def test_help_shows_an_example(cli, path, flag):
    r = cli([*path, flag])
    assert r.code == 0
    text = r.out
    assert "Example" in text
    assert "voiceclone " + " ".join(path) in " ".join(text.split()) or path == []


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from voiceclone_cli.cli import main\n"
        "try:\n    main(['say', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'httpx', 'soundfile', 'av', 'soxr', 'onnxruntime', 'piper') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"


def test_bare_group_shows_help_without_an_empty_error(cli):
    r = cli(["config"])
    assert r.code == 2 and "voiceclone config set" in r.out and "error" not in r.stderr


def test_unknown_command_points_at_the_right_help(cli):
    r = cli(["sya"])
    assert r.code == 2 and "Did you mean 'say'" in r.stderr and "see 'voiceclone --help'" in r.stderr
