import json
import stat

import pytest

from voiceclone_cli.config_file import config_path

SECRET = "vc-config-secret-key-7788"


def test_set_api_key_from_stdin_is_saved_privately_and_redacted(cli, isolated_env):
    r = cli(["config", "set", "api-key"], stdin=f"{SECRET}\n".encode())
    assert r.code == 0, r.stderr
    path = config_path()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SECRET in path.read_text()
    assert SECRET not in r.stderr + r.out and "****7788" in r.stderr
    got = cli(["config", "get", "api-key"])
    assert got.out.strip() == "****7788"


def test_api_key_as_argument_warns_about_history(cli):
    r = cli(["config", "set", "api-key", SECRET])
    assert r.code == 0 and "shell history" in r.stderr and SECRET not in r.stderr


def test_set_get_unset_endpoint(cli):
    assert cli(["config", "set", "endpoint", "https://api.example.com/"]).code == 0
    assert cli(["config", "get", "endpoint"]).out.strip() == "https://api.example.com"
    assert cli(["config", "unset", "endpoint"]).code == 0
    assert cli(["config", "get", "endpoint"]).out.strip() == "https://aivoiceclonefree.com"
    r = cli(["config", "unset", "endpoint"])
    assert r.code == 0 and "not set" in r.stderr


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["config", "set", "colour", "blue"], 2, "unknown setting 'colour'"),
        (["config", "get", "colour"], 2, "valid keys: api-key, endpoint, timeout, retries"),
        (["config", "set", "endpoint"], 2, "missing value"),
        (["config", "set", "endpoint", "http://example.com"], 3, "clear text"),
        (["config", "set", "retries", "lots"], 3, "whole number"),
        (["config", "set", "timeout", "0"], 3, "between 0 and 3600"),
    ],
)
def test_bad_config_commands(cli, args, code, message):
    r = cli(args)
    assert r.code == code and message in r.stderr
    assert not config_path().exists()


def test_show_lists_values_with_sources(cli, monkeypatch):
    cli(["config", "set", "api-key"], stdin=f"{SECRET}\n".encode())
    cli(["config", "set", "timeout", "30"])
    monkeypatch.setenv("VOICECLONE_RETRIES", "7")
    r = cli(["config", "show", "--json"])
    data = json.loads(r.out)["settings"]
    assert data["api-key"] == {"value": "****7788", "source": "config", "origin": f"config file {config_path()}"}
    assert data["timeout"]["value"] == "30.0" and data["timeout"]["source"] == "config"
    assert data["retries"] == {"value": "7", "source": "env", "origin": "VOICECLONE_RETRIES"}
    assert data["endpoint"]["source"] == "default"
    monkeypatch.setenv("VOICECLONE_API_KEY", "vc-env-key-override-1234")
    text = cli(["config", "show"]).out
    assert "****1234" in text and "VOICECLONE_API_KEY" in text
    assert SECRET not in text and "vc-env-key-override-1234" not in text


def test_env_override_is_mentioned_when_setting(cli, monkeypatch):
    monkeypatch.setenv("VOICECLONE_ENDPOINT", "https://env.example.com")
    r = cli(["config", "set", "endpoint", "https://file.example.com"])
    assert "VOICECLONE_ENDPOINT is set and takes precedence" in r.stderr


def test_broken_config_file_is_a_warning(cli):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("api-key = [unclosed")
    r = cli(["config", "show"])
    assert r.code == 0
    assert f"warning: ignoring broken config file {path}" in r.stderr
    # and it can be repaired with the tool itself
    assert cli(["config", "set", "endpoint", "https://ok.example.com"]).code == 0


def test_path(cli, isolated_env):
    assert cli(["config", "path"]).out.strip() == str(isolated_env / "config" / "config.toml")


def test_config_key_is_used_by_say(cli, server, sample_wav, tmp_path, monkeypatch):
    from tests.fakeserver import VALID_KEY

    cli(["config", "set", "api-key"], stdin=f"{VALID_KEY}\n".encode())
    cli(["config", "set", "endpoint", server.url])
    r = cli(["say", "-s", sample_wav, "Hi there.", "-o", tmp_path / "o.wav"])
    assert r.code == 0, r.stderr
    assert server.requests[0].headers["Authorization"] == f"Bearer {VALID_KEY}"
    # env beats config, flag beats env
    monkeypatch.setenv("VOICECLONE_API_KEY", "env-key-wrong-000")
    assert cli(["say", "-s", sample_wav, "Hi.", "-o", tmp_path / "o.wav", "--retries", "0"]).code == 4
    r = cli(["say", "-s", sample_wav, "Hi.", "-o", tmp_path / "o.wav", "--api-key", VALID_KEY])
    assert r.code == 0
