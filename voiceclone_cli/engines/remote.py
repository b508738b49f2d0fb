"""The default engine: the hosted sync-clone API."""

from __future__ import annotations

from pathlib import Path

from voiceclone_cli.chunking import MAX_CHUNK_CHARS
from voiceclone_cli.client import SyncCloneClient
from voiceclone_cli.errors import MissingApiKeyError
from voiceclone_cli.retry import RateGate, RetryPolicy
from voiceclone_cli.sample import PreparedSample, prepare_sample
from voiceclone_cli.settings import Settings
from voiceclone_cli.wav import Audio


class RemoteEngine:
    name = "remote"
    max_chunk_chars = MAX_CHUNK_CHARS
    first_chunk_chars = None  # every request costs: fill each one
    cpu_bound = False

    def __init__(self, settings: Settings, *, max_workers: int = 8, gate: RateGate | None = None) -> None:
        if not settings.api_key:
            raise MissingApiKeyError("no API key for the sync-clone API")
        self.max_workers = max_workers
        self.client = SyncCloneClient(
            settings.api_url,
            settings.api_key,
            timeout=settings.timeout,
            policy=RetryPolicy(retries=settings.retries),
            gate=gate,
        )

    def prepare_voice(self, sample_path: Path, *, strict: bool = False) -> PreparedSample:
        return prepare_sample(sample_path, strict=strict)

    def synthesize(self, text: str, voice: PreparedSample, *, speed: float = 1.0, pitch: float = 0.0) -> Audio:
        return self.client.synthesize(voice, text, speed=speed, pitch=pitch)

    def stats(self) -> dict[str, int]:
        return {"requests": self.client.stats.requests, "retries": self.client.stats.retries}

    def close(self) -> None:
        self.client.close()
