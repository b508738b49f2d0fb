"""Where the audio goes, decided before any work and written so that nothing is ever lost.

- ``plan``: from the output options to sinks, refusing what cannot or must not be written;
- ``sinks``: file (atomic), stdout/FIFO/device stream, raw PCM, tee;
- ``players``: ``--play`` through miniaudio or a player command;
- ``formats``: the output formats and their encoder limits;
- ``atomic``: temp file + rename, PID-owned temp files and their clean-up.
"""
