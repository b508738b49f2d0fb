import os
import stat

import pytest

from voiceclone_cli.config_file import config_path, load_config, save_config
from voiceclone_cli.errors import ConfigError, UsageError
from voiceclone_cli.settings import DEFAULT_ENDPOINT, is_loopback_host, redact, resolve


def test_defaults(tmp_path):
    s = resolve({}, env={"VOICECLONE_CONFIG_DIR": str(tmp_path)})
    assert s.api_key is None and s.endpoint == DEFAULT_ENDPOINT
    assert s.timeout == 120.0 and s.retries == 4
    assert s.api_url == DEFAULT_ENDPOINT + "/api/sync-clone"
    assert {v.source for v in s.values.values()} == {"default"}


def test_precedence_flag_over_env_over_config_over_default(tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path)}
    save_config(config_path(env), {"api-key": "config-key-1111", "timeout": 30, "retries": 2})
    s = resolve({}, env=env)
    assert (s.api_key, s.values["api-key"].source) == ("config-key-1111", "config")
    env["VOICECLONE_API_KEY"] = "env-key-2222"
    env["VOICECLONE_TIMEOUT"] = "45"
    s = resolve({}, env=env)
    assert (s.api_key, s.values["api-key"].source) == ("env-key-2222", "env")
    assert (s.timeout, s.retries) == (45.0, 2)
    s = resolve({"api-key": "flag-key-3333", "retries": 0}, env=env)
    assert (s.api_key, s.values["api-key"].source, s.retries) == ("flag-key-3333", "flag", 0)


def test_redaction_keeps_only_last_four():
    assert redact("sk-abcdefghijklmnop") == "****mnop"
    assert redact("short") == "****"
    assert redact(None) == "(not set)"


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8000", "http://localhost.evil.com"])
def test_plain_http_refused_for_remote_hosts(url, tmp_path):
    with pytest.raises(ConfigError, match="clear text"):
        resolve({}, env={"VOICECLONE_ENDPOINT": url, "VOICECLONE_CONFIG_DIR": str(tmp_path)})
    with pytest.raises(UsageError, match="clear text"):
        resolve({"endpoint": url}, env={"VOICECLONE_CONFIG_DIR": str(tmp_path)})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1/", "http://[::1]:9", "https://api.example.com/base/"])
def test_allowed_endpoints(url, tmp_path):
    s = resolve({"endpoint": url}, env={"VOICECLONE_CONFIG_DIR": str(tmp_path)})
    assert s.endpoint == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://x.org", "example.com", "https://x.org/?a=1"])
def test_malformed_endpoints(url, tmp_path):
    with pytest.raises(UsageError):
        resolve({"endpoint": url}, env={"VOICECLONE_CONFIG_DIR": str(tmp_path)})


def test_loopback_detection():
    assert is_loopback_host("127.0.0.5") and is_loopback_host("::1") and is_loopback_host("localhost")
    assert not is_loopback_host("192.168.1.1") and not is_loopback_host("example.com")


def test_bad_env_values_are_errors_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="VOICECLONE_RETRIES"):
        resolve({}, env={"VOICECLONE_RETRIES": "many", "VOICECLONE_CONFIG_DIR": str(tmp_path)})


def test_config_file_is_private_from_creation(tmp_path):
    path = tmp_path / "deep" / "config.toml"
    old_umask = os.umask(0o022)
    try:
        save_config(path, {"api-key": "secret-key-9999"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"], "no temp files left"


def test_loose_permissions_are_fixed_on_save_and_warned_on_load(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('endpoint = "https://x.org"\n')
    path.chmod(0o644)
    assert any("readable by others" in w for w in load_config(path).warnings)
    save_config(path, {"endpoint": "https://y.org"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_broken_config_is_a_warning_not_a_crash(tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path)}
    config_path(env).write_text("this is = = not toml")
    s = resolve({}, env=env)
    assert s.endpoint == DEFAULT_ENDPOINT
    assert any(str(config_path(env)) in w and "broken" in w for w in s.config.warnings)


def test_bad_values_and_unknown_keys_in_config_are_warnings(tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path)}
    save_config(config_path(env), {"retries": "lots", "colour": "blue", "endpoint": "http://example.com"})
    s = resolve({}, env=env)
    assert s.retries == 4 and s.endpoint == DEFAULT_ENDPOINT
    text = " ".join(s.config.warnings)
    assert "retries" in text and "colour" in text and "clear text" in text
