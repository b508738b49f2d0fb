"""The voice library: clone a voice once (``voiceclone voices add``), use it by name.

``VoiceLibrary().get(name).prepared_sample()`` gives an engine exactly what ``--sample``
would have; ``voice_names()`` is the cheap listing shell completion calls.
"""

from voiceclone_cli.voices.library import StoredVoice, VoiceLibrary, voice_names

__all__ = ["StoredVoice", "VoiceLibrary", "voice_names"]
