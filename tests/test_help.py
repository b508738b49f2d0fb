"""Every command's --help shows a real example and what to type, --version works wherever
--help does, and --help never loads the heavy libraries."""

import os
import re
import subprocess
import sys

import pytest
import typer

from voiceclone_cli import __version__
from voiceclone_cli.cli import full_app


def all_command_paths():
    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, path + [name])

    walk(typer.main.get_command(full_app()), [])
    return paths


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "voiceclone")
def test_help_shows_an_example(cli, path, flag):
    r = cli([*path, flag])
    assert r.code == 0
    text = r.out
    assert "Example" in text
    assert "voiceclone " + " ".join(path) in " ".join(text.split()) or path == []


def _command_at(path):
    command = typer.main.get_command(full_app())
    for name in path:
        command = command.commands[name]
    return command


TYPE_TAG = re.compile(r"<(bool|str|int|float|path|[a-z]+ range|[\w|]+)>")


@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "voiceclone")
def test_help_shows_what_to_type_not_python_types(cli, path):
    r = cli([*path, "--help"])
    assert r.code == 0
    text = r.out
    assert TYPE_TAG.search(text) is None, TYPE_TAG.search(text).group(0)
    for param in _command_at(path).params:
        if param.param_type_name == "argument":
            assert "{" + param.metavar not in text  # usage reads INPUT, not {INPUT}
    assert "--install-completion" not in text  # completions are static files
    assert "Example" in text


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("path, expected", [
    (["batch"], ["Usage: voiceclone batch [OPTIONS] INPUT ", "-d, --outdir DIR", "-j, --jobs N",
                 "--input-format auto|text|jsonl|script", "--join FILE", "--gap SECONDS", "--speed 0.5..2.0 Speech"]),
    (["say"], ["Usage: voiceclone say [OPTIONS] [TEXT] ", "-s, --sample PATH", "--format wav|flac|ogg|mp3",
               "--sample-rate HZ", "--timeout SECONDS", "--endpoint URL", "--api-key KEY",
               "--pitch -1.0..1.0 Pitch", "--play Play", "--retries N Retries"]),
    (["config", "set"], ["Usage: voiceclone config set [OPTIONS] KEY [VALUE] "]),
])
def test_value_options_show_a_metavar_and_flags_show_none(cli, path, expected):
    text = _flat(cli([*path, "--help"]).out.replace("│", " "))
    for piece in expected:
        assert piece in text
    assert "0.5<=x<=2.0" not in text  # the metavar already is the range


@pytest.mark.parametrize("flag", ["--version", "-V"])
@pytest.mark.parametrize("path", all_command_paths(), ids=lambda p: " ".join(p) or "voiceclone")
def test_version_works_wherever_help_does(cli, path, flag):
    r = cli([*path, flag])
    assert (r.code, r.out, r.stderr) == (0, f"voiceclone {__version__}\n", "")


def test_version_comes_first_like_help(cli):
    r = cli(["say", "--speed", "9", "--version"])  # eager: the bad value is never looked at
    assert r.code == 0 and r.out == f"voiceclone {__version__}\n"


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


def test_running_a_command_does_not_import_pydantic(tmp_path):
    """Parsing a command's options must not build pydantic adapters (Typer 0.29 does, ~0.2 s of
    every command's start; pyproject holds Typer below it)."""
    book = tmp_path / "b.md"
    book.write_text("# One\n\nSome words.\n\n# Two\n\nMore words.\n")
    code = (
        "import sys; from voiceclone_cli.cli import main\n"
        f"code = main(['book', {str(book)!r}, '--list'])\n"
        "print('CODE:%s PYDANTIC:%s' % (code, 'pydantic' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "CODE:0 PYDANTIC:False"


def test_the_program_exits_with_its_code_after_exit_handlers_and_waits_for_working_threads(tmp_path):
    """``voiceclone`` skips the interpreter's teardown, but not exit handlers, buffered output,
    or a thread still working."""
    done = tmp_path / "thread-done"
    code = (
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "from voiceclone_cli.cli import entry\n"
        f"def work():\n    time.sleep(0.3)\n    open({str(done)!r}, 'w').close()\n"
        "if sys.argv[1] == 'thread':\n    threading.Thread(target=work).start()\n"
        "sys.argv = ['voiceclone', *sys.argv[2:]]\n"
        "print('buffered', end='')\n"
        "entry()\n"
    )
    ok = subprocess.run([sys.executable, "-c", code, "plain", "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("buffered") and "exit handler ran" in ok.stdout
    bad = subprocess.run([sys.executable, "-c", code, "plain", "say", "--nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "exit handler ran" in bad.stdout and "No such option" in bad.stderr
    waited = subprocess.run([sys.executable, "-c", code, "thread", "--version"], capture_output=True, text=True)
    assert waited.returncode == 0 and done.exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["say", "--help"], ["config", "path"]])
def test_output_to_a_full_disk_is_exit_7_in_one_line(args):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "voiceclone_cli", *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert proc.returncode == 7, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "internal error" not in lines[0]
