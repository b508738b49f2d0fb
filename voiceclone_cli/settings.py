"""Settings resolution with one written precedence: flag > environment > config file > default.

Every value remembers where it came from, so ``voiceclone config show`` can explain itself
and error messages can name the place to fix.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from voiceclone_cli.config_file import LoadedConfig, config_path, load_config
from voiceclone_cli.errors import ConfigError, UsageError

DEFAULT_ENDPOINT = "https://aivoiceclonefree.com"
API_PATH = "/api/sync-clone"


def _parse_api_key(value: Any) -> str:
    key = str(value).strip()
    if not key:
        raise ValueError("the API key is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise ValueError("the API key contains spaces or control characters")
    return key


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_endpoint(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r} must be a base URL without ?query or #fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"refusing plain http:// for {parts.hostname}: the API key would travel in clear "
            "text (use https://; http:// is allowed only for localhost)"
        )
    return text.rstrip("/")


def _parse_timeout(value: Any) -> float:
    seconds = float(value)
    if not 0 < seconds <= 3600:
        raise ValueError("the timeout must be between 0 and 3600 seconds")
    return seconds


def _parse_retries(value: Any) -> int:
    if isinstance(value, float) or (isinstance(value, str) and not value.strip().isdigit()):
        raise ValueError("retries must be a whole number")
    count = int(value)
    if not 0 <= count <= 20:
        raise ValueError("retries must be between 0 and 20")
    return count


@dataclass(frozen=True)
class SettingSpec:
    name: str
    env: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("api-key", "VOICECLONE_API_KEY", None, _parse_api_key,
                    "key for the sync-clone API", secret=True),
        SettingSpec("endpoint", "VOICECLONE_ENDPOINT", DEFAULT_ENDPOINT, _parse_endpoint,
                    "base URL of the sync-clone API"),
        SettingSpec("timeout", "VOICECLONE_TIMEOUT", 120.0, _parse_timeout,
                    "read timeout per request, seconds"),
        SettingSpec("retries", "VOICECLONE_RETRIES", 4, _parse_retries,
                    "retries after 429, 5xx and network errors"),
    )
}


def redact(secret: str | None) -> str:
    """Show only the last 4 characters, and nothing at all of a short key."""
    if not secret:
        return "(not set)"
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # "flag", "env", "config" or "default"
    origin: str  # where exactly: the flag, variable or file


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Value]
    config: LoadedConfig

    def __getitem__(self, name: str) -> Any:
        return self.values[name].value

    @property
    def api_key(self) -> str | None:
        return self["api-key"]

    @property
    def endpoint(self) -> str:
        return self["endpoint"]

    @property
    def api_url(self) -> str:
        return self.endpoint + API_PATH

    @property
    def timeout(self) -> float:
        return self["timeout"]

    @property
    def retries(self) -> int:
        return self["retries"]

    def display(self, name: str) -> str:
        value = self.values[name].value
        if SPECS[name].secret:
            return redact(value)
        return "(not set)" if value is None else str(value)


def parse_value(name: str, raw: Any, origin: str, *, from_flag: bool = False) -> Any:
    """Validate one value; the error names where the bad value came from."""
    try:
        return SPECS[name].parse(raw)
    except (TypeError, ValueError) as exc:
        error = UsageError if from_flag else ConfigError
        raise error(f"invalid {name} from {origin}: {exc}", hint=f"fix {origin}") from None


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config: LoadedConfig | None = None,
) -> Settings:
    """Apply the precedence. Bad config *file* values are warnings; bad flags or env are errors."""
    env = os.environ if env is None else env
    flags = flags or {}
    if config is None:
        config = load_config(config_path(env))
    values: dict[str, Value] = {}
    for name, spec in SPECS.items():
        if flags.get(name) is not None:
            flag = "--" + name
            values[name] = Value(parse_value(name, flags[name], flag, from_flag=True), "flag", flag)
        elif env.get(spec.env, "").strip():
            values[name] = Value(parse_value(name, env[spec.env], spec.env), "env", spec.env)
        elif name in config.values:
            origin = f"config file {config.path}"
            try:
                values[name] = Value(spec.parse(config.values[name]), "config", origin)
            except (TypeError, ValueError) as exc:
                config.warnings.append(f"ignoring {name} in {config.path}: {exc}")
                values[name] = Value(spec.default, "default", "default")
        else:
            values[name] = Value(spec.default, "default", "default")
    for key in config.values:
        if key not in SPECS:
            config.warnings.append(f"ignoring unknown key {key!r} in {config.path}")
    return Settings(values, config)
