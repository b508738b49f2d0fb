"""The default engine: the hosted sync-clone API."""

from __future__ import annotations

from voiceclone_cli.prepare.chunking import MAX_CHUNK_CHARS
from voiceclone_cli.engines.remote.client import SyncCloneClient
from voiceclone_cli.errors import MissingApiKeyError
from voiceclone_cli.engines.remote.retry import RateGate, RetryPolicy
from voiceclone_cli.prepare.sample import PreparedSample
from voiceclone_cli.redaction import register_secret
from voiceclone_cli.settings import Settings
from voiceclone_cli.audio.wav import Audio

API_CONTRACT = "sync-clone/1"


class RemoteEngine:
    name = "remote"
    max_chunk_chars = MAX_CHUNK_CHARS
    first_chunk_chars = None  # every request costs: fill each one
    cpu_bound = False
    version = API_CONTRACT  # the same request to the same contract gives the same audio
    sample_rate = None  # the service decides; each answer says

    def __init__(self, settings: Settings, *, max_workers: int = 8, gate: RateGate | None = None,
                 require_key: bool = True) -> None:
        """``require_key=False`` is for dry runs, which plan requests but never send one."""
        if require_key and not settings.api_key:
            raise MissingApiKeyError("no API key for the sync-clone API")
        register_secret(settings.api_key)  # scrubbed from every message, also when used as a library
        self.max_workers = max_workers
        # The client keeps at most ``max_workers`` requests out; a caller's extra threads parse
        # and store answers and prepare the next requests meanwhile (see ``threads_for``).
        self.overlap_workers = max(1, max_workers // 4)
        self.endpoint = settings.api_url
        self.client = SyncCloneClient(
            settings.api_url,
            settings.api_key,
            timeout=settings.timeout,
            policy=RetryPolicy(retries=settings.retries),
            gate=gate,
            max_in_flight=max_workers,
        )

    def warm_up(self) -> None:
        """Import httpx and build its client in the background (~0.3 s, which the first request
        would otherwise wait for) while the caller reads its input and prepares the sample."""
        import threading

        threading.Thread(target=self.client.warm_up, name="voiceclone-http-warm-up", daemon=True).start()

    def prepare_voice(self, sample: PreparedSample) -> PreparedSample:
        """The voice is the sample itself: it is uploaded with every request."""
        return sample

    def synthesize(self, text: str, voice: PreparedSample, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        return self.client.synthesize(voice, text, speed=speed, pitch=pitch)

    def stats(self) -> dict[str, int]:
        return {"requests": self.client.stats.requests, "retries": self.client.stats.retries}

    def close(self) -> None:
        self.client.close()
