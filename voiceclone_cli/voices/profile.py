"""The local engine's voice profile for a stored voice.

Analysing a sample takes seconds; doing it when the voice is added (or imported) and putting
the result in the profile cache under the key ``LocalEngine.prepare_voice`` looks up makes the
first ``--local`` use of the voice as quick as any later one. The profile is also kept in the
voice's folder, so an export carries it to another machine.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voiceclone_cli.prepare.sample import PreparedSample


def local_engine_installed() -> bool:
    from voiceclone_cli.engines.local import LOCAL_MODULES
    from voiceclone_cli.engines.registry import missing_modules

    return not missing_modules(LOCAL_MODULES)


def current_version() -> int:
    from voiceclone_cli.engines.local.profile import PROFILE_VERSION

    return PROFILE_VERSION


def cache_key(sample_sha256: str, version: int) -> str:
    """The profile cache's key, as ``LocalEngine.prepare_voice`` computes it."""
    return f"{sample_sha256[:40]}-v{version}"


def analyse(sample: PreparedSample) -> bytes:
    """The profile as ``.npz`` bytes; ValueError when the sample has too little voiced speech."""
    import numpy as np

    from voiceclone_cli.engines.local.profile import analyze_sample

    buffer = io.BytesIO()
    np.savez(buffer, **analyze_sample(sample.samples, sample.rate).to_arrays())
    return buffer.getvalue()


def check(npz: bytes) -> None:
    """Raise ValueError unless ``npz`` is a profile the installed local engine can use.

    Loaded without pickles: a profile from someone else's file cannot run code.
    """
    from voiceclone_cli.engines.local.profile import VoiceProfile

    VoiceProfile.from_arrays(_arrays(npz))


def put_in_cache(sample_sha256: str, version: int, npz: bytes) -> None:
    """Best effort, like every cache write: a failure costs only time on first use."""
    from voiceclone_cli.engines.local.profile_cache import ProfileCache

    ProfileCache().store(cache_key(sample_sha256, version), _arrays(npz))


def _arrays(npz: bytes) -> dict:
    import numpy as np

    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except Exception as exc:  # a damaged zip inside, pickled arrays, not npz at all
        raise ValueError(f"not a readable profile ({exc})") from None
