import json
import stat
import tomllib

import pytest

from voiceclone_cli.config_file import config_path
from voiceclone_cli.settings import SPECS

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
        (["config", "get", "colour"], 2, "valid keys: api-key, endpoint, timeout, retries, engine, cache-size"),
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


def test_broken_config_file_is_a_warning_with_advice_that_works(cli):
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text('endpoint = "https://keep.example.com"\napi-key = [unclosed\n')
    r = cli(["config", "show"])
    assert r.code == 0
    assert f"warning: ignoring broken config file {path}: line 2" in r.stderr
    assert f"fix line 2 of {path} (or move it away: mv {path} {path}.broken)" in r.stderr
    assert "config unset" not in r.stderr  # cannot work on a file that does not parse


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


# --- rewriting the file never loses anything ---------------------------------------------------

def _write_config(text: str | bytes, mode: int = 0o600):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("args", [["config", "set", "timeout", "60"], ["config", "unset", "retries"]])
def test_set_and_unset_refuse_a_file_they_cannot_parse(cli, args):
    original = b'endpoint = "https://keep.example.com"\nretries = 3\ntimeout = = 5\n'
    path = _write_config(original)
    r = cli(args)
    assert r.code == 3
    assert f"broken config file {path}: line 3" in r.stderr and f"fix line 3 of {path}" in r.stderr
    assert path.read_bytes() == original
    assert not path.with_name("config.toml.bak").exists()


def test_set_refuses_a_file_that_is_not_utf8(cli):
    original = b'endpoint = "https://keep.example.com"\n# caf\xe9\nretries = 3\n'
    path = _write_config(original)
    r = cli(["config", "set", "timeout", "60"])
    assert r.code == 3 and f"broken config file {path}: line 2 is not UTF-8" in r.stderr
    assert path.read_bytes() == original
    shown = cli(["config", "show"])
    assert shown.code == 0 and f"fix line 2 of {path}" in shown.stderr


def test_a_directory_in_place_of_the_file_is_reported_not_replaced(cli):
    path = config_path()
    path.mkdir(parents=True)
    (path / "keep").write_text("x")
    shown = cli(["config", "show"])
    assert shown.code == 0 and f"config file {path} is a directory" in shown.stderr
    r = cli(["config", "set", "timeout", "60"])
    assert r.code == 3 and f"config file {path} is a directory" in r.stderr and "Traceback" not in r.stderr
    assert (path / "keep").read_text() == "x"


def test_rewrite_keeps_every_other_setting_comments_tables_and_a_private_backup(cli):
    original = (
        "# my settings\n"
        'endpoint = "https://keep.example.com"  # staging\n'
        "timeout = 30\n"
        'colour = "blue"\n'
        "\n"
        "[foo]\n"
        "bar = 1\n"
    )
    path = _write_config(original)
    assert cli(["config", "set", "timeout", "60"]).code == 0
    text = path.read_text()
    assert "# my settings" in text and "# staging" in text
    assert tomllib.loads(text) == {
        "endpoint": "https://keep.example.com", "timeout": 60.0, "colour": "blue", "foo": {"bar": 1},
    }
    backup = path.with_name("config.toml.bak")
    assert backup.read_text() == original and stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert cli(["config", "set", "retries", "2"]).code == 0
    assert tomllib.loads(path.read_text())["retries"] == 2 and tomllib.loads(path.read_text())["foo"] == {"bar": 1}
    assert cli(["config", "unset", "endpoint"]).code == 0
    assert "endpoint" not in tomllib.loads(path.read_text())
    assert tomllib.loads(backup.read_text())["endpoint"] == "https://keep.example.com"
    assert "colour" in tomllib.loads(path.read_text())


def test_comments_survive_next_to_multiline_values_and_a_multiline_key_is_rewritten_exactly(cli):
    path = _write_config('# head\ncolour = [\n  "blue",\n  "green",\n]\n[foo]\nbar = 1\n')
    assert cli(["config", "set", "timeout", "45"]).code == 0
    text = path.read_text()
    assert text.startswith("# head\n")
    assert tomllib.loads(text) == {"timeout": 45.0, "colour": ["blue", "green"], "foo": {"bar": 1}}
    path.write_text('api-key = """\nvc-old-key-0000-0000"""\nretries = 2\n')
    assert cli(["config", "set", "api-key"], stdin=b"vc-new-key-1111-1111\n").code == 0
    assert tomllib.loads(path.read_text()) == {"api-key": "vc-new-key-1111-1111", "retries": 2}


def test_set_through_a_symlink_rewrites_its_target_and_keeps_the_link(cli, tmp_path):
    target = tmp_path / "dotfiles" / "voiceclone.toml"
    target.parent.mkdir()
    target.write_text('endpoint = "https://keep.example.com"\n')
    path = config_path()
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    assert cli(["config", "set", "timeout", "60"]).code == 0
    assert path.is_symlink() and path.resolve() == target.resolve()
    assert tomllib.loads(target.read_text()) == {"endpoint": "https://keep.example.com", "timeout": 60.0}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert path.with_name("config.toml.bak").read_text() == 'endpoint = "https://keep.example.com"\n'
    assert not [p.name for p in target.parent.iterdir() if p.name != target.name]


def test_a_loose_mode_is_warned_about_and_the_rewrite_makes_it_private(cli):
    path = _write_config('retries = 3\n', mode=0o644)
    shown = cli(["config", "show"])
    assert shown.code == 0 and "readable by others (mode 644)" in shown.stderr
    assert cli(["config", "set", "timeout", "60"]).code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name("config.toml.bak").stat().st_mode) == 0o600  # the copy too


def test_set_refuses_unwritable_places_and_changes_nothing(cli, monkeypatch, tmp_path):
    path = _write_config('retries = 3\n')
    backup = path.with_name("config.toml.bak")
    backup.write_text("old backup\n")
    path.chmod(0o400)
    r = cli(["config", "set", "timeout", "60"])
    assert r.code == 3 and f"config file {path} is read-only" in r.stderr and "Traceback" not in r.stderr
    assert path.read_text() == "retries = 3\n" and backup.read_text() == "old backup\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o400

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("VOICECLONE_CONFIG_DIR", str(blocker / "voiceclone"))
    r = cli(["config", "set", "timeout", "60"])
    assert r.code == 3 and f"cannot write config file {blocker / 'voiceclone' / 'config.toml'}" in r.stderr
    assert "VOICECLONE_CONFIG_DIR" in r.stderr and "Traceback" not in r.stderr


# --- config show / get with an invalid value ----------------------------------------------------

def test_show_marks_a_bad_environment_value_shows_the_rest_and_exits_3(cli, monkeypatch):
    cli(["config", "set", "timeout", "30"])
    monkeypatch.setenv("VOICECLONE_RETRIES", "abc")
    r = cli(["config", "show"])
    assert r.code == 3
    lines = {line.split()[0]: line for line in r.out.splitlines() if not line.startswith("#")}
    assert set(lines) == set(SPECS)
    assert "abc (invalid: retries must be a whole number)" in lines["retries"]
    assert "(VOICECLONE_RETRIES)" in lines["retries"]
    assert "30.0" in lines["timeout"]
    assert "invalid retries from VOICECLONE_RETRIES" in r.stderr

    r = cli(["config", "show", "--json"])
    assert r.code == 3
    data = json.loads(r.out)["settings"]
    assert set(data) == set(SPECS)
    assert data["retries"] == {"value": "abc", "source": "env", "origin": "VOICECLONE_RETRIES",
                               "error": "retries must be a whole number"}
    assert "error" not in data["timeout"] and data["timeout"]["value"] == "30.0"


def test_get_fails_only_for_the_bad_setting_naming_the_variable(cli, monkeypatch):
    monkeypatch.setenv("VOICECLONE_RETRIES", "abc")
    r = cli(["config", "get", "retries"])
    assert r.code == 3 and "VOICECLONE_RETRIES" in r.stderr and r.out == ""
    r = cli(["config", "get", "endpoint"])
    assert r.code == 0 and r.out.strip() == "https://aivoiceclonefree.com"


# --- one redaction rule -------------------------------------------------------------------------

def test_set_get_and_show_redact_the_key_the_same_way(cli):
    for key, shown in [("ab12cd34", "****"), (SECRET, "****7788")]:
        r = cli(["config", "set", "api-key"], stdin=f"{key}\n".encode())
        assert r.code == 0 and f"saved api-key = {shown} in" in r.stderr
        assert cli(["config", "get", "api-key"]).out.strip() == shown
        assert json.loads(cli(["config", "show", "--json"]).out)["settings"]["api-key"]["value"] == shown


# --- credentials in the endpoint ----------------------------------------------------------------

CRED_URL = "https://alice:pw-s3cret@api.example.com"


def _no_credentials(*texts):
    for text in texts:
        assert "pw-s3cret" not in text and "alice" not in text


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_endpoint_flag_with_credentials_is_refused_without_echoing_them(cli, sample_wav, tmp_path, monkeypatch, debug):
    monkeypatch.setenv("VOICECLONE_API_KEY", "vc-some-valid-key-0001")
    r = cli(["say", "-s", sample_wav, "Hi.", "-o", tmp_path / "o.wav", "--endpoint", CRED_URL, *debug])
    assert r.code == 2
    assert "https://****@api.example.com" in r.stderr and "api-key" in r.stderr
    _no_credentials(r.stderr, r.out)
    assert not (tmp_path / "o.wav").exists()


def test_endpoint_with_credentials_from_env_or_config_is_refused(cli, sample_wav, tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECLONE_API_KEY", "vc-some-valid-key-0001")
    monkeypatch.setenv("VOICECLONE_ENDPOINT", CRED_URL)
    r = cli(["say", "-s", sample_wav, "Hi.", "-o", tmp_path / "o.wav"])
    assert r.code == 3 and "VOICECLONE_ENDPOINT" in r.stderr and "https://****@api.example.com" in r.stderr
    _no_credentials(r.stderr)
    shown = cli(["config", "show"])
    assert shown.code == 3 and "https://****@api.example.com (invalid:" in shown.out
    _no_credentials(shown.out, shown.stderr)

    monkeypatch.delenv("VOICECLONE_ENDPOINT")
    r = cli(["config", "set", "endpoint", CRED_URL])
    assert r.code == 3 and "https://****@api.example.com" in r.stderr
    _no_credentials(r.stderr)
    assert not config_path().exists()
    # written by hand: refused, not silently replaced by the default endpoint
    _write_config(f'endpoint = "{CRED_URL}"\n')
    r = cli(["say", "-s", sample_wav, "Hi.", "-o", tmp_path / "o.wav"])
    assert r.code == 3 and "https://****@api.example.com" in r.stderr
    _no_credentials(r.stderr)
    shown = cli(["config", "show", "--json"])
    assert json.loads(shown.out)["settings"]["endpoint"]["value"] == "https://****@api.example.com"
    _no_credentials(shown.out, shown.stderr)


# --- cache-size ---------------------------------------------------------------------------------

def test_cache_size_set_get_env_and_default(cli, monkeypatch):
    assert cli(["config", "get", "cache-size"]).out.strip() == "1 GB"
    r = cli(["config", "set", "cache-size", "2GB"])
    assert r.code == 0 and "saved cache-size = 2 GB" in r.stderr
    assert tomllib.loads(config_path().read_text())["cache-size"] == 2_000_000_000
    assert cli(["config", "get", "cache-size"]).out.strip() == "2 GB"
    assert cli(["config", "set", "cache-size", "0"]).code == 0
    assert cli(["config", "get", "cache-size"]).out.strip() == "0 (disabled)"
    monkeypatch.setenv("VOICECLONE_CACHE_SIZE", "2GiB")
    assert cli(["config", "get", "cache-size"]).out.strip() == "2 GiB"
    data = json.loads(cli(["config", "show", "--json"]).out)["settings"]
    assert data["cache-size"] == {"value": "2 GiB", "source": "env", "origin": "VOICECLONE_CACHE_SIZE"}


@pytest.mark.parametrize("value", ["2 gigs", "-1GB", "1.5", "lots", "1e9"])
def test_bad_cache_sizes_are_refused(cli, value):
    r = cli(["config", "set", "cache-size", "--", value])
    assert r.code == 3 and "invalid cache-size" in r.stderr and "Traceback" not in r.stderr
    assert not config_path().exists()


def test_config_help_lists_every_key(cli):
    for command in ("set", "get", "unset"):
        text = cli(["config", command, "--help"]).out
        for key in {*SPECS, "cache-size"}:
            assert key in text, (command, key)
