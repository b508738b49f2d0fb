"""``voiceclone batch`` as a library: many lines, one engine, resumable, with a failure list.

The stages, each in its own module:

- ``inputs``: text / JSONL / stdin read line by line, line numbers kept, per-line problems
  recorded on the item instead of raised;
- ``naming``: output names from the line number, a template or a JSONL ``output``, always
  inside OUTDIR;
- ``voices``: each distinct sample hashed and prepared once;
- ``manifest``: the append-only record of finished lines that makes re-runs resume, and the
  clean-up of what an interrupted run left;
- ``runner``: the scheduler (worker threads sharing one engine, so one rate gate that pauses
  and paces every worker after a 429; failures, stop conditions), entered through ``run_batch``;
- ``failures``: ``failed.jsonl``, in a form that can be fed back as input;
- ``join``: one file of every line in order, streamed;
- ``results``: what a batch reports, line by line and at the end.

Nothing here prints or imports typer; progress is reported through callbacks and the outcome
through a returned summary.
"""
