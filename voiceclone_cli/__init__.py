"""voiceclone: clone a voice from a short sample and speak any text in it.

As a library::

    import voiceclone_cli as vc

    vc.speak("Hello there", "me.wav", output="hello.wav")
    engine = vc.get_engine("local")

Importing the package is cheap on purpose: the names below load their modules on first use,
so ``voiceclone --help`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "speak": "voiceclone_cli.api",
    "get_engine": "voiceclone_cli.api",
    "Audio": "voiceclone_cli.audio.wav",
    "PreparedSample": "voiceclone_cli.prepare.sample",
    "prepare_sample": "voiceclone_cli.prepare.sample",
    "VoicecloneError": "voiceclone_cli.errors",
    "EngineStatus": "voiceclone_cli.engines.registry",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'voiceclone_cli' has no attribute {name!r}")
