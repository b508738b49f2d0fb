"""Settings resolution with one written precedence: flag > environment > config file > default.

Every value remembers where it came from, so ``voiceclone config show`` can explain itself
and error messages can name the place to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from voiceclone_cli.config_file import LoadedConfig

from voiceclone_cli.errors import ConfigError, UsageError, VoicecloneError
from voiceclone_cli.redaction import redact_url

DEFAULT_ENDPOINT = "https://aivoiceclonefree.com"
API_PATH = "/api/sync-clone"


class CredentialsInURL(ValueError):
    """An endpoint carrying ``user:password@``: refused from every source, never ignored.

    Ignoring it (as other bad config-file values are) would send the key and the text to the
    default service instead of the host the user clearly meant.
    """

    hint = "remove the user-info from {origin}; the service authenticates with api-key (voiceclone config set api-key)"


def _parse_api_key(value: Any) -> str:
    key = str(value).strip()
    if not key:
        raise ValueError("the API key is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise ValueError("the API key contains spaces or control characters")
    return key


def is_loopback_host(host: str) -> bool:
    import ipaddress

    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_endpoint(value: Any) -> str:
    """Every message shows the URL through ``redact_url``: it may hold a password."""
    text = str(value).strip()
    shown = redact_url(text)
    if "@" in text:  # anywhere: parsers disagree on where a password with / ? # in it ends
        raise CredentialsInURL(f"{shown!r} contains a user name or password (user:password@)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValueError(f"{shown!r} is not a valid URL (check the host and port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown!r} must be a base URL without ?query or #fragment")
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


_ENGINE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}\Z")


def _parse_engine(value: Any) -> str:
    """An engine's name; whether it is installed is checked when it is used (exit 2 listing them)."""
    name = str(value).strip().lower()
    if not _ENGINE_NAME.match(name):
        raise ValueError(f"{str(value)!r} is not an engine name (see 'voiceclone engines')")
    return name


DEFAULT_CACHE_SIZE = 1_000_000_000
_SIZE_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)
_SIZE_HELP = "use bytes or a number with KB, MB, GB, TB (or KiB, MiB, GiB, TiB), e.g. 500MB, 2GB, 1.5G; 0 disables the cache"


def parse_size(value: Any) -> int:
    """Bytes from ``2GB``, ``1.5G``, ``750M``, ``2GiB``, ``0`` or a plain byte count.

    G, GB and the other decimal units are powers of 1000 (as disks are sold); GiB and the
    other binary units powers of 1024.
    """
    from decimal import Decimal

    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is not a size: {_SIZE_HELP}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a size: it cannot be negative")
        return value
    text = str(value)
    match = _SIZE.fullmatch(text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"{text.strip()!r} is not a size: {_SIZE_HELP}")
    size = Decimal(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if size != size.to_integral_value():
        raise ValueError(f"{text.strip()!r} is not a whole number of bytes")
    return int(size)


def format_size(size: int) -> str:
    """The shortest exact form in the units ``parse_size`` reads (so it can be pasted back)."""
    from decimal import Decimal

    if size == 0:
        return "0 (disabled)"
    for name, unit in (("TB", 10**12), ("TiB", 2**40), ("GB", 10**9), ("GiB", 2**30),
                       ("MB", 10**6), ("MiB", 2**20), ("KB", 10**3), ("KiB", 2**10)):
        if size >= unit and (size * 100) % unit == 0:
            number = f"{Decimal(size) / unit:f}"
            return f"{number.rstrip('0').rstrip('.') if '.' in number else number} {name}"
    return f"{size} bytes"


@dataclass(frozen=True)
class SettingSpec:
    name: str
    env: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    secret: bool = False
    show: Callable[[Any], str] = str  # a valid value for people (config get/show)


def redact(secret: str | None) -> str:
    """The one rule for showing the API key: the last 4 characters of a long key, else none."""
    if not secret:
        return "(not set)"
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("api-key", "VOICECLONE_API_KEY", None, _parse_api_key,
                    "key for the sync-clone API", secret=True, show=redact),
        SettingSpec("endpoint", "VOICECLONE_ENDPOINT", DEFAULT_ENDPOINT, _parse_endpoint,
                    "base URL of the sync-clone API"),
        SettingSpec("timeout", "VOICECLONE_TIMEOUT", 120.0, _parse_timeout,
                    "seconds one request attempt may take, connect to last byte"),
        SettingSpec("retries", "VOICECLONE_RETRIES", 4, _parse_retries,
                    "retries after 429, 5xx and network errors"),
        SettingSpec("engine", "VOICECLONE_ENGINE", "remote", _parse_engine,
                    "the engine used without --engine or --local: remote, local or a plugin"),
        SettingSpec("cache-size", "VOICECLONE_CACHE_SIZE", DEFAULT_CACHE_SIZE, parse_size,
                    "size limit of the response cache, e.g. 2GB; 0 disables it", show=format_size),
    )
}


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # "flag", "env", "config" or "default"
    origin: str  # where exactly: the flag, variable or file
    problem: str | None = None  # why the value given there is invalid (value is then None)
    hint: str | None = None
    raw: Any = None  # what was given, kept only when invalid, to show it (redacted)


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

    @property
    def engine(self) -> str:
        return self["engine"]

    @property
    def cache_size(self) -> int:
        """Bytes the response cache may hold; 0 means no cache."""
        return self["cache-size"]

    def display(self, name: str) -> str:
        spec, value = SPECS[name], self.values[name]
        if value.problem is not None:
            return f"{shown_raw(name, value.raw)} (invalid: {value.problem})"
        if value.value is None and not spec.secret:
            return "(not set)"
        return spec.show(value.value)

    def error(self, name: str) -> VoicecloneError | None:
        """The error an invalid setting raises (None when it is valid)."""
        value = self.values[name]
        if value.problem is None:
            return None
        return _invalid(name, value.problem, value.origin, value.hint, from_flag=value.source == "flag")

    def invalid(self) -> list[str]:
        return [name for name in self.values if self.values[name].problem is not None]


def shown_raw(name: str, raw: Any) -> str:
    """A value as given, safe to print: the key redacted, an URL's user-info hidden."""
    return redact(str(raw)) if SPECS[name].secret else redact_url(str(raw))


def _invalid(name: str, problem: str, origin: str, hint: str | None, *, from_flag: bool) -> VoicecloneError:
    error = UsageError if from_flag else ConfigError
    return error(f"invalid {name} from {origin}: {problem}", hint=hint or f"fix {origin}")


def _hint(exc: ValueError, origin: str) -> str | None:
    hint = getattr(exc, "hint", None)
    return hint.format(origin=origin) if hint else None


def parse_value(name: str, raw: Any, origin: str, *, from_flag: bool = False) -> Any:
    """Validate one value; the error names where the bad value came from."""
    try:
        return SPECS[name].parse(raw)
    except (TypeError, ValueError) as exc:
        raise _invalid(name, str(exc), origin, _hint(exc, origin), from_flag=from_flag) from None


def _given(name: str, spec: SettingSpec, flags: Mapping[str, Any], env: Mapping[str, str],
           config: LoadedConfig) -> tuple[Any, str, str] | None:
    """The value that wins the precedence, with its source and origin (None: the default)."""
    if flags.get(name) is not None:
        return flags[name], "flag", "--" + name
    if env.get(spec.env, "").strip():
        return env[spec.env], "env", spec.env
    if name in config.values:
        return config.values[name], "config", f"config file {config.path}"
    return None


def resolve(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config: LoadedConfig | None = None,
    *,
    strict: bool = True,
) -> Settings:
    """Apply the precedence. Bad config *file* values are warnings; bad flags or env are errors.

    ``strict=False`` (for ``config show``/``get``) raises nothing: each invalid value is kept
    with its problem, so every setting can still be shown and the bad one pointed at.
    """
    env = os.environ if env is None else env
    flags = flags or {}
    if config is None:
        from voiceclone_cli.config_file import config_path, load_config  # file I/O only when resolving

        config = load_config(config_path(env))
    values: dict[str, Value] = {}
    for name, spec in SPECS.items():
        given = _given(name, spec, flags, env, config)
        if given is None:
            values[name] = Value(spec.default, "default", "default")
            continue
        raw, source, origin = given
        try:
            values[name] = Value(spec.parse(raw), source, origin)
        except (TypeError, ValueError) as exc:
            if source == "config" and not isinstance(exc, CredentialsInURL):
                config.warnings.append(f"ignoring {name} in {config.path}: {exc}")
                values[name] = Value(spec.default, "default", "default")
                continue
            values[name] = Value(None, source, origin, problem=str(exc), hint=_hint(exc, origin), raw=raw)
            if strict:
                raise Settings(values, config).error(name) from None
    for key in config.values:
        if key not in SPECS:
            config.warnings.append(f"ignoring unknown key {key!r} in {config.path}")
    return Settings(values, config)
