"""Audio in memory: one convention (``wav.Audio``: mono float32 and its rate) for every stage.

- ``wav``: strict WAV parsing, streaming headers, 16-bit PCM;
- ``resample``: rate conversion (soxr);
- ``assembly``: chunk joins (edge trim, level match, cross-fade) and frame levels.
"""
