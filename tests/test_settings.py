import os
import stat

import pytest

from voiceclone_cli.config_file import config_path, load_config, save_config
from voiceclone_cli.errors import ConfigError, UsageError
from voiceclone_cli.redaction import redact_url
from voiceclone_cli.settings import DEFAULT_ENDPOINT, format_size, is_loopback_host, parse_size, redact, resolve


def test_defaults(tmp_path):
    s = resolve({}, env={"VOICECLONE_CONFIG_DIR": str(tmp_path)})
    assert s.api_key is None and s.endpoint == DEFAULT_ENDPOINT
    assert s.timeout == 120.0 and s.retries == 4 and s.cache_size == 1_000_000_000
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


@pytest.mark.parametrize(
    "text, size",
    [("500MB", 500_000_000), ("2GB", 2_000_000_000), ("1.5G", 1_500_000_000), ("750M", 750_000_000),
     ("2GiB", 2 * 1024**3), ("0", 0), ("123456", 123_456), (" 1.5 gb ", 1_500_000_000), ("64KiB", 65_536),
     (4096, 4096)],
)
def test_cache_sizes_accepted(text, size):
    assert parse_size(text) == size
    assert parse_size(format_size(size).removesuffix(" (disabled)")) == size


@pytest.mark.parametrize("text", ["2 gigs", "-1GB", "1.5", "GB", "", "1e9", "0x10", "1,5GB", True, 1.5e9, -3])
def test_cache_sizes_refused(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_cache_size_from_env_and_config(tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path)}
    save_config(config_path(env), {"cache-size": "500MB"})
    assert resolve({}, env=env).cache_size == 500_000_000
    env["VOICECLONE_CACHE_SIZE"] = "2GiB"
    assert resolve({}, env=env).cache_size == 2 * 1024**3
    env["VOICECLONE_CACHE_SIZE"] = "huge"
    with pytest.raises(ConfigError, match="VOICECLONE_CACHE_SIZE"):
        resolve({}, env=env)


@pytest.mark.parametrize(
    "url, shown",
    [("https://user:pass@host.example", "https://****@host.example"),
     ("https://user@host.example/base", "https://****@host.example/base"),
     ("https://u:p/ss@host.example", "https://****@host.example"),
     ("https://u:p@ss@host.example", "https://****@host.example"),
     ("user:pass@host.example", "****@host.example"),
     ("https://host.example/base", "https://host.example/base")],
)
def test_redact_url_hides_all_user_info(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    ["https://alice:pw-s3cret@api.example.com", "https://alice@api.example.com", "http://alice:pw-s3cret@127.0.0.1:9",
     "http://alice:pw-s3cret@example.com", "https://alice:pw-s3cret@api.example.com:notaport",
     "https://alice:pw/s3cret@api.example.com", "https:/alice:pw-s3cret@api.example.com"],
)
def test_endpoint_user_info_is_refused_from_every_source_without_echoing_it(url, tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path)}
    with pytest.raises(UsageError) as flag:
        resolve({"endpoint": url}, env=env)
    with pytest.raises(ConfigError) as from_env:
        resolve({}, env={**env, "VOICECLONE_ENDPOINT": url})
    save_config(config_path(env), {"endpoint": url})
    with pytest.raises(ConfigError) as from_file:
        resolve({}, env=env)
    for exc in (flag.value, from_env.value, from_file.value):
        text = exc.message + exc.hint
        assert "s3cret" not in text and "alice" not in text and "****@" in text
    assert "api-key" in flag.value.hint


def test_lenient_resolve_keeps_every_setting_and_the_problem(tmp_path):
    env = {"VOICECLONE_CONFIG_DIR": str(tmp_path), "VOICECLONE_RETRIES": "abc", "VOICECLONE_TIMEOUT": "45"}
    s = resolve({}, env=env, strict=False)
    assert s.invalid() == ["retries"] and s.timeout == 45.0
    assert s.display("retries") == "abc (invalid: retries must be a whole number)"
    error = s.error("retries")
    assert isinstance(error, ConfigError) and "VOICECLONE_RETRIES" in error.message
    assert s.error("timeout") is None


def test_unknown_keys_and_tables_survive_a_rewrite(tmp_path):
    from voiceclone_cli.config_file import set_value, unset_value

    path = tmp_path / "config.toml"
    path.write_text('colour = "blue"\n[foo]\nbar = 1\n')
    set_value(path, "timeout", 60.0)
    assert unset_value(path, "retries") is False
    assert load_config(path).values == {"colour": "blue", "timeout": 60.0, "foo": {"bar": 1}}
