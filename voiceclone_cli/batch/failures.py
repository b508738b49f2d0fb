"""``OUTDIR/failed.jsonl``: the lines that failed, in a form that can be fed back as INPUT.

Each entry is the line as JSONL (its text and any overrides, with the ``output`` name it was
meant to have, so a retry fills the same gap) plus ``_line`` and ``_error``, which the reader
ignores like every ``_`` key. Entries go to a spooled temp file while the batch runs and
replace ``failed.jsonl`` atomically at the end, so the file is never half-written and can be
the very INPUT of the run that replaces it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from voiceclone_cli.output.atomic import atomic_open
from voiceclone_cli.batch.inputs import ANNOTATION_PREFIX, BatchItem
from voiceclone_cli.errors import OutputError

FAILED_NAME = "failed.jsonl"
_SPOOL_BYTES = 1 << 20  # kept in memory up to 1 MB, then on disk


def retry_entry(item: BatchItem, output: str | None, reason: str, speaker_voice: Any = None) -> dict[str, Any]:
    """A JSONL object that reads back as the same line, annotated with why it failed.

    A dialogue line carries its speaker's voice (``speaker_voice``: a saved voice or a sample
    path), so fed back as JSONL it is spoken in the same voice.
    """
    if item.fields is not None:
        entry = {k: v for k, v in item.fields.items() if not k.startswith(ANNOTATION_PREFIX)}
        if item.sample is not None:
            entry["sample"] = str(item.sample)  # absolute: failed.jsonl lives in another folder
    elif item.text is not None:
        entry = {"text": item.text}
        if item.speaker is not None:
            entry["_speaker"] = item.speaker
            if isinstance(speaker_voice, Path):
                entry["sample"] = str(speaker_voice.resolve())
            elif speaker_voice is not None:
                entry["voice"] = speaker_voice.name
    else:
        entry = {"_raw": item.raw}
    if output is not None and "output" not in entry:
        entry["output"] = output
    entry["_line"] = item.line
    entry["_error"] = reason
    return entry


class FailureLog:
    """Collects failed.jsonl entries; ``commit`` puts them in place when the run ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # noqa: SIM115 - closed by commit

    def add(self, entry: dict[str, Any]) -> None:
        self._spool.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
        self.count += 1

    def commit(self, *, whole_input_read: bool) -> Path | None:
        """Replace failed.jsonl with this run's failures; return its path if it was written.

        A run that read its whole input without failures removes an old failed.jsonl; a run
        stopped early without failures leaves it (feeding it back is harmless: lines that
        are already done are skipped).
        """
        try:
            if self.count:
                self._spool.seek(0)
                with atomic_open(self.path) as target:
                    shutil.copyfileobj(self._spool, target)
                return self.path
            if whole_input_read:
                self.path.unlink(missing_ok=True)
            return None
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror}") from None
        finally:
            self._spool.close()
