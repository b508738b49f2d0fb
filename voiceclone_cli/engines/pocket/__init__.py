"""The pocket engine: Kyutai's pocket-tts neural voice cloner, installed with the ``pocket`` extra.

- ``engine``: ``PocketEngine`` (the engine protocol; one loaded model per process);
- ``weights``: where the weights are (a copied folder, or the model hub's cache) and fetching them;
- ``voice_cache``: voice states by the prepared sample's hash, so a sample is encoded once;
- ``effects``: speed and pitch, which pocket-tts lacks, as a numpy post-process (WSOLA).

Registered as the engine ``pocket`` (entry point ``voiceclone_cli.engines.pocket:PLUGIN``).
Nothing heavy is imported here: listing engines reads files and metadata only, never torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from voiceclone_cli.engines.registry import EngineStatus, missing_modules
from voiceclone_cli.errors import ConfigError, EngineUnavailableError

POCKET_EXTRA_HINT = "pip install 'voiceclone-cli[pocket]'"
POCKET_MODULES = ("torch", "pocket_tts", "huggingface_hub", "safetensors", "yaml")
THREADS_ENV = "VOICECLONE_POCKET_THREADS"


def require_extra() -> None:
    missing = missing_modules(POCKET_MODULES)
    if missing:
        raise EngineUnavailableError(
            f"the pocket engine is not installed (missing: {', '.join(missing)})",
            hint=f"install it with: {POCKET_EXTRA_HINT}",
        )


def threads_from_env(env: Any = None) -> int:
    """Torch threads for each of pocket-tts's two threads (generation, decoding); default 1."""
    value = (os.environ if env is None else env).get(THREADS_ENV, "").strip()
    if not value:
        return 1
    cores = os.cpu_count() or 1
    if not value.isdigit() or not 1 <= int(value) <= cores:
        raise ConfigError(f"{THREADS_ENV}={value!r} is not a thread count",
                          hint=f"give a whole number from 1 to {cores}, or unset it")
    return int(value)


class _PocketPlugin:
    description = "Kyutai pocket-tts: neural zero-shot cloning on the CPU (weights from the model hub on first use)"

    def create(self, settings: Any, *, use_cache: bool = True, require_key: bool = True,
               quiet: bool = False, **_options: Any) -> Any:
        """Weights missing: fetched now, with a progress bar — unless this is a dry run
        (``require_key=False``), which plans without them and downloads nothing."""
        require_extra()
        from voiceclone_cli.engines.pocket.engine import PocketEngine
        from voiceclone_cli.engines.pocket.weights import resolve

        threads = threads_from_env()
        files = resolve(download_missing=require_key, progress=not quiet)
        return PocketEngine(files, use_cache=use_cache, threads=threads)

    def status(self, settings: Any) -> EngineStatus:
        """usable / weights missing / token needed / extra missing, from files and metadata only."""
        missing = missing_modules(POCKET_MODULES)
        if missing:
            return EngineStatus(False, f"the 'pocket' extra ({', '.join(missing)} not installed)", POCKET_EXTRA_HINT)
        from voiceclone_cli.engines.pocket import weights

        if weights.model_dir() is not None:
            try:
                weights.from_folder(weights.model_dir())
            except EngineUnavailableError as exc:
                return EngineStatus(False, exc.message, exc.hint)
            return EngineStatus(True)
        if weights.from_hub_cache() is not None:
            return EngineStatus(True)
        if not weights.has_token():
            return EngineStatus(
                False, f"the weights, fetched with a model hub token: they are gated (accept the terms "
                       f"at {weights.TERMS_URL}; 'hf auth login' also gives a token)",
                f"HF_TOKEN=hf_... {weights.FETCH_COMMAND}",
            )
        return EngineStatus(False, "the weights (not downloaded yet)", weights.FETCH_COMMAND)

    def fetch(self, settings: Any, *, into: Path | None = None, quiet: bool = False) -> str:
        """Download the weights into the hub's cache (if not there yet); with ``into``, also
        copy them to a self-contained folder for ``VOICECLONE_POCKET_MODEL`` on a machine
        without the hub. Returns what was done, for people."""
        require_extra()
        from voiceclone_cli.engines.pocket import weights

        files = weights.resolve(download_missing=True, progress=not quiet)
        if into is not None:
            folder = weights.write_folder(files, into)
            return (f"the pocket model is in {folder}: copy that folder to a machine without the "
                    f"hub and set {weights.MODEL_DIR_ENV}=FOLDER there")
        return f"the pocket weights are ready ({files.weights.parent})"


PLUGIN = _PocketPlugin()
