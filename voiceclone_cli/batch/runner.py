"""The batch scheduler: every line through ``speech.speak`` on a pool of worker threads.

The main thread reads the input and decides each line: refuse it (with the reason), skip it
(already done, per the manifest), or hand it to the workers through a queue that holds at most
``jobs`` lines, so memory stays flat however long the input is. All workers share one engine:
for the remote API that is one connection pool and one rate gate (a 429 pauses every worker),
for the local engine one loaded model. Workers are daemon threads, so Ctrl-C never waits for a
request in flight; a line counts as done only once its file is complete and recorded.

Most failures belong to one line: it is listed, written to failed.jsonl, and the batch goes on
(``fail_fast`` stops at the first). Failures that cannot be about one line stop the batch: a
rejected key, an output that cannot be written, an internal error, or several lines in a row
lost to server, network or rate-limit errors (the service is down, and every further line would
spend its retries too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceclone_cli.batch.failures import FAILED_NAME, FailureLog, retry_entry
from voiceclone_cli.batch.inputs import SCRIPT, TEXT, BatchInput, BatchItem
from voiceclone_cli.batch.join import join_outputs
from voiceclone_cli.output.atomic import remove_stale_temps
from voiceclone_cli.batch.manifest import (
    CUES_SUFFIX,
    Finished,
    Manifest,
    line_hash,
    load_cues,
    output_is_intact,
    save_cues,
)
from voiceclone_cli.batch.naming import SCRIPT_TEMPLATE, NameTemplate, check_output_name, count_width
from voiceclone_cli.batch.results import (
    COMPLETE,
    DONE,
    FAILED,
    INTERRUPTED,
    PARTIAL,
    SKIPPED,
    STOPPED,
    BatchCounts,
    BatchPlan,
    BatchStopped,
    BatchSummary,
    LineOutcome,
)
from voiceclone_cli.batch.voices import SavedVoice, VoiceCache, VoiceRef
from voiceclone_cli.engines.base import Engine
from voiceclone_cli.output.plan import NamedInput, OutputTarget, inspect_output, same_file
from voiceclone_cli.errors import (
    AuthError,
    EngineUnavailableError,
    ExitCode,
    InputError,
    Interrupted,
    OutputError,
    PartialFailureError,
    RateLimitedError,
    ServerError,
    UsageError,
    VoicecloneError,
)
from voiceclone_cli.redaction import scrub

log = logging.getLogger("voiceclone.batch")

SERVICE_DOWN_AFTER = 5  # lines in a row lost to server/network/429 errors before giving up
_NO_MORE = object()


@dataclass(frozen=True)
class BatchOptions:
    """What to do with the lines; the engine (and its settings) is passed separately."""

    outdir: Path
    sample: Path | None = None  # the voice of every line that does not name its own...
    voice: str | None = None  # ...or a saved voice's name for it (not both)
    cast: Mapping[str, VoiceRef] = dataclasses.field(default_factory=dict)  # speaker (casefolded) -> voice
    speed: float = 1.0
    pitch: float = 0.0
    strict_sample: bool = False
    jobs: int = 2
    name_template: str | None = None
    force: bool = False  # redo every line, even those the manifest has as done
    fail_fast: bool = False
    join: Path | None = None
    gap_seconds: float = 0.5
    srt: Path | None = None  # subtitles of the --join file (checked by the caller)
    vtt: Path | None = None
    use_markup: bool = True  # pause markup becomes silence (see prepare.markup)
    lexicon: Any = None  # prepare.lexicon.Lexicon, applied to every line


LineCallback = Callable[[LineOutcome, BatchCounts], None]
StartCallback = Callable[[BatchCounts], None]


def run_batch(
    source: BatchInput,
    engine: Engine,
    options: BatchOptions,
    *,
    on_start: StartCallback | None = None,
    on_line: LineCallback | None = None,
) -> BatchSummary:
    """Speak every line of ``source`` into ``options.outdir``; see the module docstring.

    Everything that can be refused up front is, before any request and before OUTDIR is
    created: the name template, the --join path, a file input that is empty or not UTF-8, and
    the default sample. Callbacks run on the thread that settled the line, one at a time.
    """
    template, shape, voices, inputs, join_target = _check_job(source, VoiceCache(engine, strict=options.strict_sample), options)
    outdir = options.outdir
    _prepare_outdir(outdir)
    jobs = max(1, min(options.jobs, engine.max_workers))
    if jobs < options.jobs:
        log.info("running %d jobs at once, the most the %s engine can use (-j %d asked)",
                 jobs, engine.name, options.jobs)
    with Manifest.open(outdir) as manifest:
        removed = remove_stale_temps(outdir, recursive=True, targets=_batch_temp_target)
        if removed:
            log.info("removed %d unfinished temp file%s left by a run that was killed",
                     removed, "s" * (removed > 1))
        run = _BatchRun(source, engine, options, template, voices, manifest, outdir, jobs, inputs, join_target,
                        total=shape.items if shape else None,
                        line_width=count_width(shape.last_line if shape else None),
                        index_width=count_width(shape.items if shape else None),
                        on_line=on_line)
        if on_start is not None:
            on_start(run.counts)
        return run.run()


def plan_batch(source: BatchInput, engine: Engine, options: BatchOptions) -> BatchPlan:
    """What ``run_batch`` would do with these lines (``--dry-run``), doing none of it.

    The same checks refuse the job or a line, and lines are chunked as the engine will; but
    nothing is sent, OUTDIR and its sub-folders are not created, the manifest is read without
    being locked or repaired, and failed.jsonl is left alone. Samples are checked, not analysed.
    """
    template, shape, voices, inputs, join_target = _check_job(
        source, VoiceCache(engine, strict=options.strict_sample, dry_run=True), options)
    _check_outdir(options.outdir)
    run = _BatchRun(source, engine, options, template, voices, Manifest.read_only(options.outdir),
                    options.outdir, 1, inputs, join_target, total=shape.items if shape else None,
                    line_width=count_width(shape.last_line if shape else None),
                    index_width=count_width(shape.items if shape else None),
                    on_line=None, dry_run=True)
    return run.plan()


def default_voice(options: BatchOptions) -> VoiceRef | None:
    """The voice of lines that name none: ``--sample`` or ``--voice``."""
    if options.sample is not None and options.voice is not None:
        raise UsageError("give --sample or --voice, not both")
    if options.voice is not None:
        return SavedVoice(options.voice)
    return options.sample


def _check_job(source: BatchInput, voices: VoiceCache, options: BatchOptions) -> tuple[
        NameTemplate, Any, VoiceCache, list[NamedInput], OutputTarget | None]:
    """Everything the whole job depends on, refused before OUTDIR is created or a request sent."""
    template = NameTemplate(options.name_template if options.name_template is not None
                            else SCRIPT_TEMPLATE if source.format == SCRIPT else None)
    default = default_voice(options)
    if options.cast and source.format != SCRIPT:
        raise UsageError("--cast goes with dialogue scripts", hint="add --input-format script (lines 'NAME: text')")
    if default is None and source.format == TEXT:
        raise UsageError(
            "missing --sample or --voice",
            hint="every line of a text file needs one; JSONL lines can name their own \"sample\" or \"voice\"",
        )
    inputs = _job_inputs(source, options)
    join_target = _check_join_target(options.join, inputs) if options.join is not None else None
    shape = source.shape()
    if shape is not None and shape.items == 0:
        raise InputError(
            f"{source.name} has no lines to speak",
            hint="blank lines and lines starting with # are skipped",
        )
    if default is not None:
        voices.prepare_default(default)
    if source.format == SCRIPT:
        voices.cast = resolve_speakers(source, options, voices)
    return template, shape, voices, inputs, join_target


def resolve_speakers(source: BatchInput, options: BatchOptions, voices: VoiceCache) -> dict[str, VoiceRef]:
    """Every speaker of a dialogue script with a usable voice, before the first request.

    A speaker's voice is its ``--cast`` entry (a saved voice or a sample file), else the saved
    voice of the same name. Speakers with none stop the job, each listed with its lines.
    """
    speakers: dict[str, tuple[str, list[int]]] = {}
    with contextlib.closing(source.items()) as items:
        for item in items:
            if item.speaker is not None:
                speakers.setdefault(item.speaker.casefold(), (item.speaker, []))[1].append(item.line)
    resolved: dict[str, VoiceRef] = {}
    missing: list[str] = []
    for key, (name, lines) in speakers.items():
        ref = options.cast.get(key, SavedVoice(name))
        try:
            voices.digest(ref)
            voices.voice(ref)
        except InputError as exc:
            where = f"line{'s' if len(lines) > 1 else ''} {_line_list(lines)}"
            missing.append(f"{name} ({where}): {exc.message}")
            continue
        resolved[key] = ref
    for key in options.cast.keys() - speakers.keys():
        log.warning("--cast %s: no line of %s is spoken by it", key, source.name)
    if missing:
        raise InputError(
            f"no voice for {len(missing)} speaker{'s' * (len(missing) > 1)} of {source.name}: " + "; ".join(missing),
            hint="cast them (--cast NAME=SAVED-VOICE or --cast NAME=sample.wav) or save their voices "
                 "(voiceclone voices add NAME SAMPLE)",
        )
    return resolved


def _line_list(lines: list[int], shown: int = 8) -> str:
    text = ", ".join(str(n) for n in lines[:shown])
    return text + (f" and {len(lines) - shown} more" if len(lines) > shown else "")


def _prepare_outdir(outdir: Path) -> None:
    """Create OUTDIR if needed (like ``mkdir -p``) and make sure files can be written there."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"{outdir} is a file, not a folder", hint="give a folder to -d/--outdir") from None
    except OSError as exc:
        raise OutputError(f"cannot create {outdir}: {exc.strerror}") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise OutputError(f"{outdir} is not writable", hint="give another -d/--outdir")


def _check_outdir(outdir: Path) -> None:
    """What ``_prepare_outdir`` would refuse, found without creating anything."""
    existing = outdir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = f"{outdir} is a file" if existing == outdir else f"cannot create {outdir}: {existing} is a file"
        raise OutputError(f"{what}, not a folder", hint="give a folder to -d/--outdir")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{existing} is not writable", hint="give another -d/--outdir")


def _batch_temp_target(name: str) -> bool:
    """What batch writes in OUTDIR through temp files: line WAVs, their cues and failed.jsonl."""
    return name.lower().endswith((".wav", CUES_SUFFIX)) or name == FAILED_NAME


def _job_inputs(source: BatchInput, options: BatchOptions) -> list[NamedInput]:
    """The files of the whole job that no output may overwrite."""
    inputs = []
    if source.path is not None:
        inputs.append(NamedInput(source.path, "the batch input"))
    if options.sample is not None:
        inputs.append(NamedInput(options.sample, "the voice sample"))
    inputs += [NamedInput(ref, f"the voice sample of --cast {speaker}")
               for speaker, ref in options.cast.items() if isinstance(ref, Path)]
    return inputs


def _check_join_target(target: Path, inputs: list[NamedInput]) -> OutputTarget:
    if target.suffix.lower() != ".wav" and not str(target).startswith(("/dev/", "/proc/")):
        raise UsageError(f"--join {target}: the joined file is a WAV", hint="give it a .wav name")
    return inspect_output(target, inputs=inputs, option="--join")


@dataclass(frozen=True)
class _Job:
    """A line that passed every check, with all a worker needs to speak it."""

    item: BatchItem
    text: str
    output: str
    path: Path
    voice: Any
    speed: float
    pitch: float
    digest: str


class _BatchRun:
    """One run: the main thread plans and dispatches lines, workers speak them, both settle."""

    def __init__(
        self, source: BatchInput, engine: Engine, options: BatchOptions, template: NameTemplate,
        voices: VoiceCache, manifest: Manifest, outdir: Path, jobs: int, inputs: list[NamedInput],
        join_target: OutputTarget | None, *, total: int | None,
        line_width: int, index_width: int, on_line: LineCallback | None, dry_run: bool = False,
    ) -> None:
        self.source = source
        self.engine = engine
        self.options = options
        self.template = template
        self.voices = voices
        self.manifest = manifest
        self.outdir = outdir
        self.outdir_resolved = outdir.resolve()
        self.jobs = jobs
        self.inputs = inputs
        self.join_target = join_target
        self.line_width = line_width
        self.index_width = index_width
        self.counts = BatchCounts(total=total)
        self._on_line = on_line
        self.dry_run = dry_run  # plan lines only: no folder made, nothing queued or written
        self._tasks: queue.Queue = queue.Queue(maxsize=jobs)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards counts, failures, the stop error and callbacks
        self._failures = FailureLog(outdir / FAILED_NAME)
        self._failure_list: list[LineOutcome] = []
        self._stop_error: VoicecloneError | None = None
        self._service_failures_in_a_row = 0
        self._sealed = False
        self._claimed: dict[str, int] = {}  # output name (case-folded) -> line that has it
        self._join_key = self._key_inside_outdir(options.join) if options.join else None
        self._join_order: list[tuple[str, str]] | None = [] if options.join else None  # (output, text)
        self._subtitles = options.join is not None and (options.srt is not None or options.vtt is not None)

    # ---- main thread ---------------------------------------------------------------------

    def run(self) -> BatchSummary:
        started = time.monotonic()
        workers = [
            threading.Thread(target=self._work, name=f"voiceclone-batch-{i}", daemon=True)
            for i in range(self.jobs)
        ]
        for worker in workers:
            worker.start()
        interrupted = False
        try:
            self._dispatch()
            for _ in workers:
                self._tasks.put(_NO_MORE)
            for worker in workers:
                worker.join()
        except KeyboardInterrupt:
            # Lines in flight are abandoned (daemon threads); their temp files are removed
            # by the next run, and what is already recorded stays valid.
            interrupted = True
            self._stop.set()
        return self._finish(started, interrupted)

    def _dispatch(self) -> None:
        with contextlib.closing(self.source.items()) as items:
            for item in items:
                if self._stop.is_set():
                    return
                job = self._plan(item)
                if job is not None:
                    self._tasks.put(job)  # blocks while ``jobs`` lines are already waiting

    def _plan(self, item: BatchItem) -> _Job | None:
        """Refuse, skip, or prepare a line to be spoken (this runs before any request for it)."""
        from voiceclone_cli.prepare.text import require_text

        name = item.output if item.output is not None else self.template.render(
            line=item.line, index=item.index, text=item.text,
            line_width=self.line_width, index_width=self.index_width, speaker=item.speaker,
        )
        try:
            if item.problem:
                raise InputError(item.problem)
            name = check_output_name(name)
            text = require_text(item.text or "", "the text").strip()
            self._claim(name, item.line)
            sample = self.line_voice(item)
            if sample is None:
                raise InputError('no voice for this line: give --sample or --voice, or a "sample" or "voice" key')
            if (isinstance(sample, Path) and self.join_target is not None
                    and same_file(self.join_target.path, sample)):
                raise InputError(f"this line's voice sample {sample} is the --join file: joining would destroy it")
            path = self._output_path(name, sample)
            speed = self.options.speed if item.speed is None else item.speed
            pitch = self.options.pitch if item.pitch is None else item.pitch
            digest = line_hash(text=self._spoken_identity(text), sample_sha256=self.voices.digest(sample),
                               speed=speed, pitch=pitch, engine=self.engine.name)
            if self._join_order is not None:
                self._join_order.append((name, text))
            if not self.options.force and self._already_done(name, path, digest):
                self._settle(LineOutcome(item.line, name, SKIPPED))
                return None
            voice = self.voices.voice(sample)
        except VoicecloneError as exc:
            self._fail(item, name, exc)
            return None
        return _Job(item, text, name, path, voice, speed, pitch, digest)

    def plan(self) -> BatchPlan:
        """Decide every line as ``run`` would, and add up what the lines to do would cost."""
        from voiceclone_cli.speech import plan_speech

        plan = BatchPlan(total=self.counts.total)
        with contextlib.closing(self.source.items()) as items:
            for item in items:
                job = self._plan(item)
                if job is None:
                    continue
                try:
                    cost = plan_speech(job.text, self.engine, job.voice, speed=job.speed, pitch=job.pitch,
                                       use_markup=self.options.use_markup, lexicon=self.options.lexicon)
                except VoicecloneError as exc:
                    self._fail(job.item, job.output, exc)
                    continue
                plan.to_do += 1
                if item.speaker is not None:
                    counts = plan.speakers.setdefault(item.speaker, [0, 0])
                    counts[0] += 1
                    counts[1] += cost.characters
                plan.chunks += cost.chunks
                plan.cached += cost.cached
                plan.characters += cost.characters
                plan.audio_seconds += cost.audio_seconds
        plan.skipped = self.counts.skipped
        plan.invalid = list(self._failure_list)
        return plan

    def line_voice(self, item: BatchItem) -> VoiceRef | None:
        """A script line's speaker's voice, else the line's own voice, else the job's."""
        if item.speaker is not None:
            return self.voices.cast[item.speaker.casefold()]
        return item.voice_ref or default_voice(self.options)

    def _claim(self, name: str, line: int) -> None:
        """Two lines must never write one file (case-folded: some file systems ignore case)."""
        key = name.casefold()
        if key == self._join_key:
            raise InputError(f"output {name} is the --join file")
        first = self._claimed.setdefault(key, line)
        if first != line:
            raise InputError(f"output {name} is already used by line {first}")
        recorded = self.manifest.case_variant(name)
        if recorded is not None:
            raise InputError(
                f"output {name} differs only in case from {recorded}, made earlier: on macOS and "
                "Windows disks they are one file, so writing it would overwrite that one"
            )

    def _output_path(self, name: str, sample: VoiceRef) -> Path:
        path = self.outdir / name
        if path.parent != self.outdir:
            try:
                if not self.dry_run:
                    path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot create the folder for {name}: {exc.strerror}") from None
            if not path.parent.resolve().is_relative_to(self.outdir_resolved):
                raise InputError(f"output {name} leads outside OUTDIR through a symbolic link")
        if path.is_dir():
            raise InputError(f"output {name} is a folder")
        if path.exists():
            own = [NamedInput(sample, "this line's voice sample")] if isinstance(sample, Path) else []
            for named in [*self.inputs, *own]:
                if same_file(path, named.path):
                    raise InputError(f"output {name} is {named.role} ({named.path}): "
                                     "writing it would destroy it")
        return path

    def _key_inside_outdir(self, target: Path) -> str | None:
        resolved = target.resolve()
        if not resolved.is_relative_to(self.outdir_resolved):
            return None
        return resolved.relative_to(self.outdir_resolved).as_posix().casefold()

    def _already_done(self, name: str, path: Path, digest: str) -> bool:
        entry = self.manifest.finished(name)
        return entry is not None and entry.hash == digest and output_is_intact(path, entry)

    def _finish(self, started: float, interrupted: bool) -> BatchSummary:
        with self._lock:
            self._sealed = True  # abandoned workers may still finish; they no longer count
            counts = dataclasses.replace(self.counts)
            failures = list(self._failure_list)
            stop_error = self._stop_error
        if interrupted:
            status = INTERRUPTED
        elif stop_error is not None:
            status = STOPPED
        else:
            status = PARTIAL if counts.failed else COMPLETE
        stats = self.engine.stats()
        summary = BatchSummary(
            status=status, counts=counts, failures=failures, engine=self.engine.name,
            jobs=self.jobs, elapsed_seconds=0.0, requests=stats.get("requests", 0),
            retries=stats.get("retries", 0), outdir=self.outdir, cache_hits=stats.get("cache_hits", 0),
        )
        summary.failed_file = self._failures.commit(whole_input_read=status in (COMPLETE, PARTIAL))
        if self.options.join is not None:
            self._join(summary)
        summary.elapsed_seconds = time.monotonic() - started
        summary.error = self._outcome_error(summary, stop_error)
        return summary

    def _join(self, summary: BatchSummary) -> None:
        if summary.status != COMPLETE:
            summary.join_skipped = (f"{summary.counts.failed} lines failed" if summary.status == PARTIAL
                                    else "the batch did not finish")
            return
        try:
            paths = [self.outdir / name for name, _ in self._join_order or []]
            joined = join_outputs(paths, self.join_target, self.options.gap_seconds)
            summary.join_seconds = joined.seconds
            summary.join_file = self.options.join
            if self._subtitles:
                self._write_subtitles(joined.starts)
        except VoicecloneError as exc:
            summary.join_skipped = exc.message
            summary.error = exc

    def _write_subtitles(self, starts: list[float]) -> None:
        """The cues of every line, shifted to where the line starts in the joined file.

        A line without saved cues (made without --srt/--vtt, or by an older version) gets one
        cue with its whole text, spanning its audio.
        """
        from voiceclone_cli.output.subtitles import write_subtitles
        from voiceclone_cli.speech import Cue

        cues = []
        for (name, text), start in zip(self._join_order or [], starts):
            entry = self.manifest.finished(name)
            if entry is None:  # cannot happen in a complete batch; a missing cue beats a crash
                continue
            line_cues = load_cues(self.outdir / name, entry) or [Cue(0.0, entry.frames / entry.rate, text)]
            cues += [Cue(start + cue.start, start + cue.end, cue.text) for cue in line_cues]
        write_subtitles(cues, srt=self.options.srt, vtt=self.options.vtt)

    def _outcome_error(self, summary: BatchSummary, stop_error: VoicecloneError | None) -> VoicecloneError | None:
        if summary.status == INTERRUPTED:
            return Interrupted("interrupted")
        if stop_error is not None:
            return stop_error
        if summary.counts.settled == 0:  # a stream that brought nothing (a file is checked first)
            return InputError(f"{self.source.name} has no lines to speak",
                              hint="blank lines and lines starting with # are skipped")
        if summary.status == PARTIAL:
            c = summary.counts
            of = f" of {c.total}" if c.total is not None else ""
            return PartialFailureError(
                f"{c.failed}{of} lines failed; they are listed in {summary.failed_file}",
                hint="fix the cause and run the same command again (finished lines are skipped), "
                f"or give {summary.failed_file} as INPUT",
            )
        return summary.error  # a failed --join, if any

    # ---- worker threads ------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._tasks.get()
            if job is _NO_MORE:
                return
            if not self._stop.is_set():  # once stopped, queued lines are left for the next run
                self._speak(job)

    def _spoken_identity(self, text: str) -> str:
        """The text as the hash of a line sees it: a changed lexicon or --no-markup redoes it."""
        if self.options.lexicon is not None:
            text = self.options.lexicon.apply(text)
        return text if self.options.use_markup else text + "\0literal-markup"

    def _speak(self, job: _Job) -> None:
        from voiceclone_cli.output.sinks import AudioFileSink
        from voiceclone_cli.speech import speak

        sink = AudioFileSink(job.path, defer_commit=True)  # put in place with its record (``_settle``)
        try:
            result = speak(job.text, self.engine, job.voice, sink, speed=job.speed, pitch=job.pitch, prefetch=1,
                           use_markup=self.options.use_markup, lexicon=self.options.lexicon)
            finished = Finished(
                line=job.item.line, output=job.output, hash=job.digest,
                seconds=round(result.seconds, 3), frames=sink.frames, rate=result.rate,
            )
            if self._subtitles:
                save_cues(job.path, job.digest, sink.frames, result.cues)
            self._settle(LineOutcome(job.item.line, job.output, DONE, seconds=result.seconds), finished, sink)
        except VoicecloneError as exc:
            self._fail(job.item, job.output, exc, from_engine=True)
        except Exception as exc:  # a bug: stop, since it may well repeat on every line
            log.debug("line %d failed", job.item.line, exc_info=True)
            error = VoicecloneError(f"internal error: {type(exc).__name__}: {exc}",
                                    hint="run again with --debug and report it")
            self._fail(job.item, job.output, error, from_engine=True)

    # ---- any thread ----------------------------------------------------------------------

    def _settle(self, outcome: LineOutcome, finished: Finished | None = None, sink=None) -> None:
        """Count a line that is done (its file put in place and recorded in the manifest first)
        or skipped.

        Both under the lock keep the folder, the summary and the manifest in step: once the run
        is sealed (interrupted), a line that an abandoned worker finishes is not put in place,
        counted or recorded, so every file in the folder is one the manifest has.
        """
        with self._lock:
            if self._sealed:
                if sink is not None:
                    sink.abort()
                return
            if sink is not None:
                sink.commit()
            if finished is not None:
                self.manifest.record(finished)
            if outcome.status == DONE:
                self.counts.done += 1
                self.counts.audio_seconds += outcome.seconds
                self._service_failures_in_a_row = 0
            else:
                self.counts.skipped += 1
            if self._on_line is not None:
                self._on_line(outcome, self.counts)

    def _fail(self, item: BatchItem, output: str | None, error: VoicecloneError, *, from_engine: bool = False) -> None:
        reason = scrub(error.message)  # a server may echo the key in its detail
        outcome = LineOutcome(item.line, output, FAILED, reason=reason, exit_code=int(error.exit_code))
        with self._lock:
            if self._sealed:
                return
            self._failures.add(retry_entry(item, output, reason, self.voices.cast.get((item.speaker or "").casefold())))
            self._failure_list.append(outcome)
            self.counts.failed += 1
            stop = self._stop_reason(item, outcome, error, from_engine)
            if stop is not None and self._stop_error is None:
                self._stop_error = stop
                self._stop.set()
            if self._on_line is not None:
                self._on_line(outcome, self.counts)

    def _stop_reason(
        self, item: BatchItem, outcome: LineOutcome, error: VoicecloneError, from_engine: bool
    ) -> VoicecloneError | None:
        """The error that ends the batch because of this failure, if it does (lock held)."""
        where = f"line {item.line}: {outcome.reason}"
        if from_engine:
            service_down = isinstance(error, (ServerError, RateLimitedError))
            self._service_failures_in_a_row = self._service_failures_in_a_row + 1 if service_down else 0
            if self._service_failures_in_a_row >= SERVICE_DOWN_AFTER:
                return BatchStopped(
                    f"{self._service_failures_in_a_row} lines in a row failed, the last with {outcome.reason}",
                    "the service looks unavailable; run the same command later to resume",
                    error.exit_code,
                )
        if self.options.fail_fast:
            return BatchStopped(where, error.hint, error.exit_code)
        if from_engine and (
            isinstance(error, (AuthError, OutputError, EngineUnavailableError))
            or error.exit_code == ExitCode.INTERNAL
        ):
            return BatchStopped(where, error.hint, error.exit_code)
        return None
