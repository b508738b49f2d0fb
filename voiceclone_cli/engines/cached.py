"""Any engine behind the response cache: a chunk answered once is never asked for again.

``commands.common.open_engine`` (and ``api.get_engine``) wrap every engine in this once, so ``say``, ``batch`` and whatever comes later
go through the cache without knowing it. Batch workers share one wrapped engine: the cache is
thread-safe and the wrapper keeps no per-call state.

Voices go through it too: a saved voice's kept engine state (``voices.states``) is used, or
made and kept, here. Without the wrapper (``--no-cache``, "use no cache at all") the engine
prepares every voice afresh, as it does its own caches then.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voiceclone_cli.engines.base import cache_scope
from voiceclone_cli.engines.response_cache import ResponseCache, response_key

if TYPE_CHECKING:
    from voiceclone_cli.engines.base import Engine
    from voiceclone_cli.prepare.sample import PreparedSample
    from voiceclone_cli.audio.wav import Audio


@dataclass(frozen=True)
class CachedVoice:
    """An engine's voice together with the prepared sample the cache keys are made from."""

    sample: PreparedSample
    inner: Any  # what the engine's own prepare_voice returned


def sample_of(voice: Any) -> PreparedSample:
    """The prepared sample behind a voice (dry runs pass the prepared sample itself)."""
    return voice.sample if isinstance(voice, CachedVoice) else voice


class CachedEngine:
    def __init__(self, engine: Engine, cache: ResponseCache) -> None:
        self.engine = engine
        self.cache = cache
        self.name = engine.name
        self.max_chunk_chars = engine.max_chunk_chars
        self.first_chunk_chars = engine.first_chunk_chars
        self.max_workers = engine.max_workers
        self.cpu_bound = engine.cpu_bound
        self._inflight: dict[str, Future] = {}  # chunks being made now, by key
        self._inflight_lock = threading.Lock()
        self.sample_rate = getattr(engine, "sample_rate", None)
        self.endpoint = cache_scope(engine)

    @property
    def version(self) -> str:
        return self.engine.version

    def __getattr__(self, name: str) -> Any:  # engine-specific extras (``client``...)
        return getattr(self.engine, name)

    def warm_up(self) -> None:
        warm_up = getattr(self.engine, "warm_up", None)
        if warm_up is not None:
            warm_up()

    def key(self, text: str, voice: Any, *, speed: float, pitch: float) -> str:
        return response_key(
            engine=self.name, endpoint=self.endpoint, sample_sha256=sample_of(voice).sha256,
            text=text, speed=speed, pitch=pitch, version=self.engine.version,
        )

    def is_cached(self, text: str, voice: Any, *, speed: float = 1.0, pitch: float = 0.0) -> bool:
        """Whether this chunk would be answered from the cache (read-only: for dry runs)."""
        return self.cache.contains(self.key(text, voice, speed=speed, pitch=pitch))

    def prepare_voice(self, sample: PreparedSample) -> CachedVoice:
        from voiceclone_cli.voices.states import prepare_voice

        return CachedVoice(sample, prepare_voice(self.engine, sample))

    def synthesize(self, text: str, voice: Any, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        """From the cache, else from the engine — once: a worker asking for a chunk another
        worker is already making (a line repeated in a script) waits for that answer."""
        key = self.key(text, voice, speed=speed, pitch=pitch)
        audio = self.cache.get(key)
        if audio is not None:
            return audio
        with self._inflight_lock:
            pending = self._inflight.get(key)
            mine = pending is None
            if mine:
                pending = self._inflight[key] = Future()
        if not mine:
            return pending.result()
        try:
            audio = self.engine.synthesize(text, voice.inner, speed=speed, pitch=pitch)
            self.cache.put(key, audio)
            pending.set_result(audio)
            return audio
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with self._inflight_lock:
                del self._inflight[key]

    def stats(self) -> dict[str, int]:
        return {**self.engine.stats(), "cache_hits": self.cache.hits}

    def close(self) -> None:
        try:
            self.engine.close()
        finally:
            self.cache.record_run(engine=self.name, hits=self.cache.hits, misses=self.cache.misses)
