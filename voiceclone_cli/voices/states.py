"""Engine voice states kept with saved voices: a voice's state is computed once, ever.

An engine that turns a sample into a voice state worth keeping (pocket encodes the sample
through its model: seconds of CPU) may offer, besides the engine protocol:

- ``voice_state_identity: str | None`` — what the state depends on (model, state format);
  a state kept under another identity is stale. None: nothing can be kept right now;
- ``voice_state_suffix: str`` — the kept file's extension, e.g. ``".safetensors"``;
- ``export_voice_state(voice) -> bytes`` — a voice from ``prepare_voice`` as bytes;
- ``import_voice_state(sample, data) -> voice`` — the voice from those bytes, without
  computing anything; it raises (anything but ``VoicecloneError``) when ``data`` is unusable.

When a saved voice (``--voice NAME``) is prepared for such an engine, its kept state is used if
it was made under the engine's current identity and reads back; otherwise the engine prepares
the voice as it would from a file and the state is kept with the voice (best effort), so the
next use, on this machine or after ``voices export``/``import`` on another, needs no encoding.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from voiceclone_cli.errors import VoicecloneError

if TYPE_CHECKING:
    from voiceclone_cli.prepare.sample import PreparedSample

log = logging.getLogger("voiceclone.voices")

DEFAULT_SUFFIX = ".bin"


def keeps_voice_state(engine: Any) -> bool:
    """Whether ``engine`` offers the hooks and can name its state's identity now."""
    return (callable(getattr(engine, "export_voice_state", None))
            and callable(getattr(engine, "import_voice_state", None))
            and isinstance(getattr(engine, "voice_state_identity", None), str))


def prepare_voice(engine: Any, sample: PreparedSample) -> Any:
    """``engine.prepare_voice(sample)``, through the state kept with the saved voice ``sample``
    came from, when there is one and the engine keeps states."""
    saved = getattr(sample, "saved", None)
    if saved is None or not keeps_voice_state(engine):
        return engine.prepare_voice(sample)
    identity = engine.voice_state_identity
    data = saved.engine_state(engine.name, identity)
    if data is not None:
        try:
            return engine.import_voice_state(sample, data)
        except VoicecloneError:
            raise  # the engine itself cannot run (no weights...): not the state's fault
        except Exception as exc:
            log.warning("the %s voice state kept with voice %r cannot be used (%s); making it again",
                        engine.name, saved.name, f"{type(exc).__name__}: {exc}"[:200])
    voice = engine.prepare_voice(sample)
    try:
        data = engine.export_voice_state(voice)
    except Exception as exc:  # the voice is ready: only next time's saving is lost
        log.warning("the %s voice state cannot be kept with voice %r (%s)", engine.name, saved.name,
                    f"{type(exc).__name__}: {exc}"[:200])
        return voice
    from voiceclone_cli.voices.library import VoiceLibrary

    suffix = getattr(engine, "voice_state_suffix", DEFAULT_SUFFIX)
    VoiceLibrary(saved.folder.parent).keep_engine_state(saved, engine.name, identity, suffix, data)
    return voice
