"""voiceclone as a library: the two calls most programs need, with plain values in and out.

    import voiceclone_cli as vc

    result = vc.speak("Hello there", "me.wav", output="hello.wav")            # the engine setting
    result = vc.speak("Offline.", "ana", engine="local", output="local.wav")  # a saved voice
    engine = vc.get_engine("remote")                                          # settings resolved

Nothing here prints or exits: failures are ``VoicecloneError`` subclasses with a message, a
hint and an exit code. The CLI is one user of these calls, not a layer they depend on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voiceclone_cli.output.sinks import Sink
    from voiceclone_cli.prepare.sample import PreparedSample
    from voiceclone_cli.speech import SpeakResult


def get_engine(name: str | None = None, settings: Any = None, *, cache: bool = True, **options: Any) -> Any:
    """The engine ``name`` (default: the ``engine`` setting), made with ``settings`` (default:
    resolved from the environment and the config file), behind the response cache unless
    ``cache=False``. ``settings`` may also be a plain mapping of setting names to values
    (``{"endpoint": ..., "retries": 2}``): they win over the environment and the config file,
    as the CLI's flags do. ``options`` go to the engine's factory (e.g. ``max_workers``)."""
    from voiceclone_cli.engines import registry
    from voiceclone_cli.settings import Settings, resolve

    if not isinstance(settings, Settings):
        from voiceclone_cli.errors import UsageError
        from voiceclone_cli.settings import SPECS

        unknown = sorted(set(settings or {}) - set(SPECS))
        if unknown:
            raise UsageError(f"unknown setting {unknown[0]!r}", hint="known: " + ", ".join(SPECS))
        settings = resolve(flags={name: None if value is None else str(value) for name, value in (settings or {}).items()})
    engine = registry.get_engine(name or settings.engine, settings, use_cache=cache, **options)
    if not cache:
        return engine
    from voiceclone_cli.engines.cached import CachedEngine
    from voiceclone_cli.engines.response_cache import ResponseCache

    return CachedEngine(engine, ResponseCache())


def speak(text: str, voice: str | Path | PreparedSample, *, engine: Any = None, sink: Sink | None = None,
          output: str | Path | None = None, speed: float = 1.0, pitch: float = 0.0,
          settings: Any = None) -> SpeakResult:
    """Speak ``text`` in ``voice`` — a sample file, a saved voice's name, or a prepared sample —
    into ``sink`` or the file ``output`` (its extension picks the format).

    ``engine`` is an engine from ``get_engine`` or a name (default: the ``engine`` setting),
    made with ``settings`` as ``get_engine`` takes them; an engine made here is closed here.
    """
    from voiceclone_cli.errors import UsageError
    from voiceclone_cli.prepare.sample import PreparedSample
    from voiceclone_cli.prepare.voice import load_voice_sample
    from voiceclone_cli.speech import speak as run

    if (sink is None) == (output is None):
        raise UsageError("give speak() a sink or an output path (one of them)")
    if isinstance(voice, PreparedSample):
        prepared = voice
    elif isinstance(voice, Path) or Path(str(voice)).exists():
        prepared = load_voice_sample(sample=Path(voice))
    else:
        prepared = load_voice_sample(voice=str(voice))
    owned = engine is None or isinstance(engine, str)
    speaker_engine = get_engine(engine, settings) if owned else engine
    try:
        if sink is None:
            from voiceclone_cli.output.formats import format_for
            from voiceclone_cli.output.plan import NamedInput, inspect_output
            from voiceclone_cli.output.sinks import AudioFileSink

            # The sample is never an output: the same refusal as the CLI's (exit 2).
            inputs = [NamedInput(Path(prepared.source), "the voice sample")]
            target = inspect_output(Path(output), inputs=inputs)
            sink = AudioFileSink(target.path, format_for(Path(output), None), shown=Path(output))
        return run(text, speaker_engine, speaker_engine.prepare_voice(prepared), sink, speed=speed, pitch=pitch)
    finally:
        if owned:
            speaker_engine.close()
