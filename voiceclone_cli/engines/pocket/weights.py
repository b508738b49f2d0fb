"""Where pocket-tts's weights come from: a folder the user names, or the model hub's own cache.

No package ships the weights, so they are fetched once from the hub into the hub's cache
(``HF_HUB_CACHE``/``HF_HOME``, shared with every other hub user), with the hub's progress bar.
The voice-cloning weights are gated: the hub client's token (``HF_TOKEN`` or ``hf auth login``)
is used, and a missing or refused token is one line saying where to accept the terms.

A machine without the hub uses a copied folder instead: ``VOICECLONE_POCKET_MODEL=DIR``, with
the files under the names the model's config gives them (``model.safetensors``,
``tokenizer.json``) and, for a model other than the default English one, its ``config.yaml``.
``fetch(into=DIR)`` writes exactly such a folder on a connected machine.

Everything here reads files and metadata only: torch is never imported (``voiceclone engines``
stays fast). pocket-tts's shipped configs are plain YAML read from its package folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceclone_cli.errors import EngineUnavailableError, OutputError, ServerError

log = logging.getLogger("voiceclone.pocket")

MODEL_DIR_ENV = "VOICECLONE_POCKET_MODEL"
DEFAULT_LANGUAGE = "english"  # pocket-tts's default model (the same weights as english_2026-10)
TERMS_URL = "https://huggingface.co/kyutai/pocket-tts"
FOLDER_CONFIG = "config.yaml"
FETCH_COMMAND = "voiceclone engines fetch pocket"
_OFFLINE_HINT = (
    f"on a machine with a connection run '{FETCH_COMMAND} --to DIR', copy DIR here and set "
    f"{MODEL_DIR_ENV}=DIR (or copy the model hub's cache and set HF_HUB_CACHE)"
)


@dataclass(frozen=True)
class HubFile:
    """One file of the model on the hub, as pocket-tts's configs name it (``hf://repo/path@rev``)."""

    repo_id: str
    filename: str
    revision: str | None

    @classmethod
    def parse(cls, url: str) -> HubFile:
        path = url.removeprefix("hf://")
        revision = None
        if "@" in path:
            path, revision = path.rsplit("@", 1)
        owner, name, filename = path.split("/", 2)
        return cls(f"{owner}/{name}", filename, revision)

    @property
    def basename(self) -> str:
        return self.filename.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ModelFiles:
    """A complete model on this machine: the config (as a dict) with every file made local."""

    config: dict[str, Any]
    weights: Path
    tokenizer: Path
    origin: str  # where it came from, for messages and the cache keys

    @property
    def identity(self) -> str:
        """Changes whenever the weights may: a pinned hub revision, or a folder file's size and
        modification time (a copied folder re-encodes its voices once, never wrongly reuses)."""
        stat = self.weights.stat()
        text = f"{self.origin}|{self.weights.name}|{stat.st_size}|{stat.st_mtime_ns}"
        if self.origin.startswith("hub:"):
            text = self.origin
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def resolved_config(self) -> dict[str, Any]:
        """The config pocket-tts loads: every path local, and no silent fallback to the weights
        without voice cloning (they cannot clone: better to say what is missing)."""
        config = {key: value for key, value in self.config.items()}
        config["weights_path"] = str(self.weights)
        config["weights_path_without_voice_cloning"] = None
        flow_lm = dict(config["flow_lm"])
        flow_lm["lookup_table"] = {**flow_lm["lookup_table"], "tokenizer_path": str(self.tokenizer)}
        config["flow_lm"] = flow_lm
        return config


def pocket_package_dir() -> Path | None:
    spec = importlib.util.find_spec("pocket_tts")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def read_config(path: Path) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def default_config() -> dict[str, Any]:
    package = pocket_package_dir()
    if package is None:
        raise EngineUnavailableError("pocket-tts is not installed",
                                     hint="pip install 'voiceclone-cli[pocket]'")
    return read_config(package / "config" / f"{DEFAULT_LANGUAGE}.yaml")


def hub_files(config: Mapping[str, Any]) -> tuple[HubFile, HubFile]:
    """(weights, tokenizer) of a config whose files live on the hub."""
    return (HubFile.parse(config["weights_path"]),
            HubFile.parse(config["flow_lm"]["lookup_table"]["tokenizer_path"]))


def file_names(config: Mapping[str, Any]) -> tuple[str, str]:
    """The names (weights, tokenizer) the model's files have in a copied folder."""
    return (_local_name(config["weights_path"]),
            _local_name(config["flow_lm"]["lookup_table"]["tokenizer_path"]))


def _local_name(url: str) -> str:
    return Path(url.removeprefix("hf://").split("@")[0]).name


def model_dir(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    value = env.get(MODEL_DIR_ENV)
    return Path(value).expanduser() if value else None


def hub_cache(env: Mapping[str, str] | None = None) -> str | None:
    """The hub's cache folder as the hub client would pick it now (it reads its variables only
    once, at import), or None for the client's own default."""
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return env["HF_HUB_CACHE"]
    if env.get("HF_HOME"):
        return str(Path(env["HF_HOME"]) / "hub")
    return None


def hub_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return env.get("HF_ENDPOINT") or None


def hub_reachable(env: Mapping[str, str] | None = None, timeout: float = 5.0) -> bool:
    """Whether the hub can be asked at all: offline, the hub client retries for ~25 s before it
    gives up, so a machine without a network is told at once instead."""
    import socket
    from urllib.parse import urlsplit

    env = os.environ if env is None else env
    if env.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    url = urlsplit(hub_endpoint(env) or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def has_token() -> bool:
    from huggingface_hub import get_token

    return bool(get_token())


def from_folder(folder: Path) -> ModelFiles:
    """The model in a copied folder; a missing piece is exit 8 naming the file and the fix."""
    if not folder.is_dir():
        raise EngineUnavailableError(f"{MODEL_DIR_ENV} is {folder}, which is not a folder",
                                     hint=f"point it at the folder '{FETCH_COMMAND} --to DIR' wrote")
    own = folder / FOLDER_CONFIG
    config = read_config(own) if own.is_file() else default_config()
    weights_name, tokenizer_name = file_names(config)
    missing = [name for name in (weights_name, tokenizer_name) if not (folder / name).is_file()]
    if missing:
        raise EngineUnavailableError(
            f"the pocket model folder {folder} has no {' or '.join(missing)}",
            hint=f"copy the whole folder that '{FETCH_COMMAND} --to DIR' wrote",
        )
    return ModelFiles(config, folder / weights_name, folder / tokenizer_name, f"folder:{folder.resolve()}")


def cached_hub_file(file: HubFile) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(file.repo_id, file.filename, cache_dir=hub_cache(), revision=file.revision)
    return Path(found) if isinstance(found, str) else None


def _origin(weights: HubFile) -> str:
    return f"hub:{weights.repo_id}/{weights.filename}@{weights.revision or 'main'}"


def from_hub_cache(config: dict[str, Any] | None = None) -> ModelFiles | None:
    """The default model if every file is already in the hub's cache (no network), else None."""
    config = config or default_config()
    weights, tokenizer = hub_files(config)
    paths = [cached_hub_file(weights), cached_hub_file(tokenizer)]
    if None in paths:
        return None
    return ModelFiles(config, paths[0], paths[1], _origin(weights))


def download(*, progress: bool = True) -> ModelFiles:
    """Fetch whatever the hub's cache lacks (with the hub's progress bar unless ``progress`` is
    False); hub failures become one-line errors with the fix."""
    config = default_config()
    weights, tokenizer = hub_files(config)
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        paths = [_download(file) for file in (weights, tokenizer)]
    finally:
        if not progress and not was_disabled:
            enable_progress_bars()
    return ModelFiles(config, paths[0], paths[1], _origin(weights))


def _download(file: HubFile) -> Path:
    cached = cached_hub_file(file)
    if cached is not None:
        return cached
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError

    if not hub_reachable():
        raise EngineUnavailableError(
            "the pocket engine's weights are not on this machine and the model hub cannot be reached",
            hint=_OFFLINE_HINT,
        )
    log.info("downloading %s from %s into the model hub's cache (once)", file.basename, file.repo_id)
    try:
        return Path(hf_hub_download(file.repo_id, file.filename, revision=file.revision,
                                    cache_dir=hub_cache(), endpoint=hub_endpoint()))
    except GatedRepoError:
        raise EngineUnavailableError(
            "the pocket voice-cloning weights are gated and the model hub refused this machine's "
            "token" if has_token() else
            "the pocket voice-cloning weights are gated and no model hub token is set",
            hint=f"accept the terms at {TERMS_URL} with your hub account, then set HF_TOKEN "
                 f"(or run 'hf auth login') and run '{FETCH_COMMAND}'",
        ) from None
    except LocalEntryNotFoundError:  # offline, or the hub unreachable
        raise EngineUnavailableError(
            "the pocket engine's weights are not on this machine and the model hub cannot be reached",
            hint=_OFFLINE_HINT,
        ) from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise EngineUnavailableError(
                f"the model hub refused the download of {file.basename} (HTTP {status})",
                hint=f"accept the terms at {TERMS_URL}, then set HF_TOKEN (or run 'hf auth login')",
            ) from None
        raise ServerError(f"the model hub failed to send {file.basename} (HTTP {status or '?'})",
                          hint=f"try again later: '{FETCH_COMMAND}'") from None
    except OSError as exc:
        raise EngineUnavailableError(
            f"cannot store the pocket weights in the model hub's cache: {exc.strerror or exc}",
            hint="free some disk space, or set HF_HUB_CACHE to a writable folder",
        ) from None
    except Exception as exc:  # a connection dropped mid-file, a broken answer: the hub resumes later
        raise ServerError(f"the download of {file.basename} from the model hub failed ({type(exc).__name__})",
                          hint=f"run '{FETCH_COMMAND}' again: it resumes where it stopped") from None


def resolve(*, download_missing: bool, progress: bool = True) -> ModelFiles | None:
    """The model to load: ``VOICECLONE_POCKET_MODEL`` if set, else the hub's cache, downloading
    what is missing only if ``download_missing`` (else None when something is missing)."""
    folder = model_dir()
    if folder is not None:
        return from_folder(folder)
    found = from_hub_cache()
    if found is not None or not download_missing:
        return found
    return download(progress=progress)


def write_folder(model: ModelFiles, folder: Path) -> Path:
    """Copy a model into a self-contained folder for a machine without the hub.

    Each file is written atomically (a killed copy leaves no half weights that would load
    as garbage), and a file that already is the source (``--to`` the model's own folder) is
    left alone."""
    import yaml

    from voiceclone_cli.output.atomic import atomic_open, atomic_write_bytes
    from voiceclone_cli.output.plan import same_file

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for source, name in zip((model.weights, model.tokenizer), file_names(model.config)):
            if (folder / name).exists() and same_file(source, folder / name):
                continue
            with open(source, "rb") as reading, atomic_open(folder / name) as writing:
                shutil.copyfileobj(reading, writing, 1 << 20)
        atomic_write_bytes(folder / FOLDER_CONFIG,
                           yaml.safe_dump(model.config, sort_keys=False).encode("utf-8"))
    except FileExistsError:
        raise OutputError(f"--to {folder} is not a folder", hint="give a folder name") from None
    except OSError as exc:
        raise OutputError(f"cannot write the model into {folder}: {exc.strerror}",
                          hint="check the folder is writable and the disk has room") from None
    return folder
