"""Engines as plugins: discovery, the example plugin installed for real, broken plugins, choice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import REPO
from tests.test_batch_cli import write_lines
from tests.test_entrypoint import BIN, env_for

PLUGIN_DIR = REPO / "examples" / "engine-plugin"


def fake_distribution(site: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A distribution as pip leaves it (dist-info with entry points), on a folder for PYTHONPATH."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{engine} = {target}\n" for engine, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[voiceclone.engines]\n{lines}")
    for module, code in modules.items():
        (site / f"{module}.py").write_text(code)
    return site


@pytest.fixture
def plugins_env(tmp_path, monkeypatch):
    """A broken plugin (fails to import), one whose factory fails, and one that marks its import."""
    marker = tmp_path / "imported"
    site = fake_distribution(tmp_path / "site", "voiceclone-odd-engines", {
        "broken": "vc_broken:create",
        "failing": "vc_failing:create",
        "marking": "vc_marking:create",
    }, {
        "vc_broken": "raise ImportError('needs libfoo 2, which is not installed')\n",
        "vc_failing": "def create(settings, **options):\n    raise RuntimeError('no GPU found')\n",
        "vc_marking": f"open({str(marker)!r}, 'w').close()\ndef create(settings):\n    raise RuntimeError('unused')\n",
    })
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(site))
    return marker


def run(args, server=None, **env):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=env_for(server, **env),
                          timeout=120)


def test_engines_lists_built_ins_and_plugins_with_their_state(plugins_env):
    proc = run(["engines", "--json"])
    assert proc.returncode == 0, proc.stderr
    listed = {e["name"]: e for e in json.loads(proc.stdout)}
    assert [e["name"] for e in json.loads(proc.stdout)][:2] == ["remote", "local"]
    assert listed["remote"]["source"] == "built-in" and listed["remote"]["usable"] is False
    assert listed["remote"]["missing"] == "an API key" and "config set api-key" in listed["remote"]["fix"]
    assert listed["broken"]["source"] == "voiceclone-odd-engines 1.0" and listed["broken"]["usable"] is False
    assert "needs libfoo 2" in listed["broken"]["broken"]
    human = run(["engines"]).stdout
    assert "broken: the broken engine (voiceclone-odd-engines 1.0) cannot be loaded" in human


def test_a_broken_plugin_never_breaks_the_cli_and_using_it_is_exit_8(plugins_env, api_env, sample_wav):
    assert run(["--help"]).returncode == 0
    ok = run(["say", "-s", sample_wav, "Hello.", "-o", os.devnull], api_env)
    assert ok.returncode == 0, ok.stderr
    broken = run(["say", "--engine", "broken", "-s", sample_wav, "Hello.", "-o", os.devnull], api_env)
    assert broken.returncode == 8 and "needs libfoo 2" in broken.stderr and "Traceback" not in broken.stderr
    failing = run(["say", "--engine", "failing", "-s", sample_wav, "Hello.", "-o", os.devnull], api_env)
    assert failing.returncode == 8 and "no GPU found" in failing.stderr
    assert len(api_env.requests) == 1


def test_discovery_imports_no_plugin_until_its_engine_is_used(plugins_env, sample_wav):
    for args in (["--help"], ["say", "--help"], ["batch", "--help"]):
        assert run(args).returncode == 0
    assert not plugins_env.exists()
    run(["say", "--engine", "marking", "-s", sample_wav, "Hello.", "-o", os.devnull])
    assert plugins_env.exists()


def test_an_unknown_engine_is_a_usage_error_naming_the_engines(cli, sample_wav, api_env):
    r = cli(["say", "--engine", "nope", "-s", sample_wav, "Hello.", "-o", os.devnull])
    assert r.code == 2 and "no engine named 'nope'" in r.stderr and "remote" in r.stderr and "local" in r.stderr
    assert api_env.requests == []


def test_local_is_short_for_engine_local_and_does_not_mix_with_another(cli, sample_wav):
    r = cli(["say", "--local", "--engine", "remote", "-s", sample_wav, "Hello.", "-o", os.devnull])
    assert r.code == 2 and "--local is short for --engine local" in r.stderr


def test_the_default_engine_is_a_setting(cli, api_env, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_ENGINE", "no such engine!")
    assert cli(["say", "-s", sample_wav, "Hello.", "-o", os.devnull]).code == 3
    monkeypatch.delenv("VOICECLONE_ENGINE")
    assert cli(["config", "set", "engine", "nope"]).code == 0
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", os.devnull])
    assert r.code == 2 and "no engine named 'nope'" in r.stderr
    assert cli(["config", "set", "engine", "remote"]).code == 0
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--json"])
    assert r.code == 0 and json.loads(r.stdout)["engine"] == "remote"


def test_fetch_for_an_engine_with_nothing_to_download(cli):
    r = cli(["engines", "fetch", "remote"])
    assert r.code == 0 and "nothing to download" in r.stderr
    assert cli(["engines", "fetch", "nope"]).code == 2


class _FetchFails:
    def create(self, settings):
        raise AssertionError("not made: only fetched")

    def fetch(self, settings):
        raise OSError(28, "No space left on device")


FETCH_FAILS = _FetchFails()


def test_a_plugin_whose_fetch_fails_is_exit_8_in_one_line(cli, monkeypatch):
    from voiceclone_cli.engines import registry

    entries = registry._entries()
    entries["fragile"] = registry._Entry("fragile", "tests.test_engines:FETCH_FAILS", "fragile-engine 0.1")
    monkeypatch.setattr(registry, "_entries", lambda: entries)
    r = cli(["engines", "fetch", "fragile"])
    assert r.code == 8 and "Traceback" not in r.stderr
    assert "the fragile engine (fragile-engine 0.1) failed to fetch: OSError" in r.stderr
    assert "No space left on device" in r.stderr


def test_the_core_imports_without_the_cli_libraries():
    code = (
        "import sys\n"
        "import voiceclone_cli, voiceclone_cli.speech, voiceclone_cli.batch.runner, voiceclone_cli.engines.registry\n"
        "import voiceclone_cli.engines.remote.engine, voiceclone_cli.engines.local.engine, voiceclone_cli.voices.library\n"
        "import voiceclone_cli.output.plan, voiceclone_cli.prepare.voice, voiceclone_cli.engines.cached\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click'))\n"
        "print(' '.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


# ---- the example plugin, installed into this environment for real --------------------------------


@pytest.fixture(scope="module")
def tone_installed():
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    installed = subprocess.run([*pip, "install", "--no-build-isolation", "--no-deps", "--no-index",
                                str(PLUGIN_DIR)], capture_output=True, text=True)
    if installed.returncode != 0:
        pytest.fail(f"pip could not install the example plugin: {installed.stderr[-500:]}")
    yield
    subprocess.run([*pip, "uninstall", "-y", "voiceclone-tone"], capture_output=True)


def test_the_example_plugin_is_small_and_complete():
    module = (PLUGIN_DIR / "voiceclone_tone.py").read_text()
    assert len(module.splitlines()) < 80
    assert '"voiceclone.engines"' in (PLUGIN_DIR / "pyproject.toml").read_text()


def test_the_example_plugin_speaks_through_say_and_batch(tone_installed, tmp_path):
    sample = REPO / "examples" / "sample.wav"
    listed = {e["name"]: e for e in json.loads(run(["engines", "--json"]).stdout)}
    assert listed["tone"]["source"] == "voiceclone-tone 1.0.0" and listed["tone"]["usable"] is True

    short = run(["say", "--engine", "tone", "-s", sample, "hello", "-o", tmp_path / "x.wav", "--json"])
    assert short.returncode == 0, short.stderr
    longer = run(["say", "--engine", "tone", "-s", sample, "hello there, a longer text", "-o", tmp_path / "y.wav"])
    assert longer.returncode == 0, longer.stderr
    assert sf.info(tmp_path / "y.wav").duration > sf.info(tmp_path / "x.wav").duration > 0.1
    assert json.loads(short.stdout)["engine"] == "tone"

    script = write_lines(tmp_path / "s.txt", ["One line.", "Another line."])
    batch = run(["batch", script, "--engine", "tone", "-s", sample, "-d", tmp_path / "out", "--join",
                 tmp_path / "all.wav", "--json"])
    assert batch.returncode == 0, batch.stderr
    summary = json.loads(batch.stdout)
    assert summary["done"] == 2 and summary["engine"] == "tone"
    assert sf.info(tmp_path / "all.wav").samplerate == 16000


# ---- the library front door -----------------------------------------------------------------------


def test_the_library_speaks_with_plain_values(api_env, sample_wav, tmp_path):
    import voiceclone_cli as vc

    result = vc.speak("Hello there.", sample_wav, output=tmp_path / "hello.wav")
    assert result.seconds > 0.2 and sf.info(tmp_path / "hello.wav").duration == pytest.approx(result.seconds, abs=1e-3)
    engine = vc.get_engine("remote")
    try:
        again = vc.speak("Hello there.", vc.prepare_sample(sample_wav), engine=engine, output=tmp_path / "b.wav")
    finally:
        engine.close()
    assert again.cache_hits == 1 and len(api_env.requests) == 1  # the second call paid nothing
    with pytest.raises(vc.VoicecloneError, match="no voice named"):
        vc.speak("Hi.", "nobody-by-that-name", output=tmp_path / "c.wav")


# ---- scripts get errors they can parse ---------------------------------------------------------------


def test_with_json_a_failure_is_one_json_object_on_stdout(cli, sample_wav, tmp_path, monkeypatch):
    r = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav", "--json"])  # no API key
    assert r.code == 4
    error = json.loads(r.stdout)["error"]
    assert error["code"] == 4 and error["kind"] == "auth" and "no API key" in error["message"]
    assert "config set api-key" in error["hint"] and r.stderr.startswith("voiceclone: error: no API key")
    usage = cli(["say", "--speed", "nan", "-s", sample_wav, "Hi.", "--json"])
    assert usage.code == 2 and json.loads(usage.stdout)["error"]["kind"] == "usage"
    plain = cli(["say", "-s", sample_wav, "Hello.", "-o", tmp_path / "o.wav"])
    assert plain.code == 4 and plain.stdout == b""


def test_a_batch_that_printed_its_summary_adds_no_second_object(cli, api_env, sample_wav, tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('{"text": "Fine."}\n{"text": "Bad", "speed": 9}\n')
    r = cli(["batch", script, "-s", sample_wav, "-d", tmp_path / "out", "--json"])
    assert r.code == 10
    lines = r.stdout.decode().strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["status"] == "partial"


def test_in_a_terminal_say_reserves_a_default_name(api_env, sample_wav, tmp_path, monkeypatch):
    from tests.conftest import run_cli

    monkeypatch.chdir(tmp_path)
    r = run_cli(["say", "-s", sample_wav, "Hello."], stdout_tty=True)
    assert r.code == 0, r.stderr
    (made,) = tmp_path.glob("voiceclone-*.wav")
    assert f"wrote {made.name}" in r.stderr and sf.info(made).duration > 0.2
    refused = run_cli(["say", "-s", sample_wav, "Hello.", "-o", "-"], stdout_tty=True)
    assert refused.code == 2 and "terminal" in refused.stderr


def test_the_remote_engine_registers_its_key_for_scrubbing_without_the_cli():
    """Library use (run_batch, speak) scrubs the key too: the engine, not the CLI, registers it."""
    import voiceclone_cli as vc
    from voiceclone_cli.redaction import scrub
    from voiceclone_cli.settings import resolve

    key = "vc-library-only-key-5555aaaa"
    assert scrub(f"server echoed {key}") == f"server echoed {key}"  # nothing registered it yet
    engine = vc.get_engine("remote", resolve({"api-key": key}), cache=False)
    try:
        assert scrub(f"server echoed {key}") == "server echoed ****"
    finally:
        engine.close()


def test_the_library_takes_settings_as_a_plain_mapping(api_env, sample_wav, tmp_path, monkeypatch):
    import voiceclone_cli as vc

    monkeypatch.setenv("VOICECLONE_ENDPOINT", "http://127.0.0.1:9")  # the mapping wins over the environment
    result = vc.speak("Hello there.", sample_wav, output=tmp_path / "a.wav",
                      settings={"endpoint": api_env.url, "retries": 0, "timeout": None})
    assert result.requests == 1 and len(api_env.requests) == 1
    with pytest.raises(vc.VoicecloneError, match="unknown setting 'retry'"):
        vc.get_engine("remote", {"retry": 2})
    with pytest.raises(vc.VoicecloneError, match="retries"):
        vc.get_engine("remote", {"retries": "many"})


def test_the_library_never_writes_over_its_sample(api_env, sample_wav, tmp_path):
    import voiceclone_cli as vc

    mine = tmp_path / "me.wav"
    mine.write_bytes(sample_wav.read_bytes())
    with pytest.raises(vc.VoicecloneError, match="voice sample"):
        vc.speak("Hello there.", mine, output=mine)
    assert mine.read_bytes() == sample_wav.read_bytes() and api_env.requests == []


def test_a_plugin_cannot_take_a_built_in_engines_name(tmp_path, monkeypatch, api_env, sample_wav):
    """A package registering 'remote' would be handed the API key: it is ignored, with a warning."""
    marker = tmp_path / "imported"
    site = fake_distribution(tmp_path / "site", "voiceclone-impostor", {"remote": "vc_impostor:create"},
                             {"vc_impostor": f"open({str(marker)!r}, 'w').close()\ndef create(settings):\n    raise RuntimeError('x')\n"})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    listed = run(["engines", "--json"])
    assert listed.returncode == 0, listed.stderr
    remote = [e for e in json.loads(listed.stdout) if e["name"] == "remote"]
    assert len(remote) == 1 and remote[0]["source"] == "built-in"
    assert "ignoring the remote engine of voiceclone-impostor 1.0" in listed.stderr
    spoken = run(["say", "-s", sample_wav, "Hello.", "-o", os.devnull], api_env)
    assert spoken.returncode == 0, spoken.stderr
    assert len(api_env.requests) == 1 and not marker.exists()


def test_a_built_in_engine_is_made_without_reading_package_metadata(monkeypatch, api_env):
    import importlib.metadata

    import voiceclone_cli as vc
    from voiceclone_cli.engines import registry

    def refuse(**_kw):
        raise AssertionError("package metadata read for a built-in engine")

    monkeypatch.setattr(importlib.metadata, "entry_points", refuse)
    registry.require_engine("remote")
    assert vc.get_engine("remote", {"endpoint": api_env.url}, max_workers=2).name == "remote"
