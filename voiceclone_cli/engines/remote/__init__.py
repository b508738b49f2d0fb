"""The hosted sync-clone API as an engine.

- ``engine``: ``RemoteEngine`` (the engine protocol over the client);
- ``client``: the HTTP client (multipart upload, error mapping, retries);
- ``retry``: backoff, ``Retry-After`` and the rate gate shared by workers;
- ``http_deadline``: one overall deadline per request attempt.

Registered as the engine ``remote`` (entry point ``voiceclone_cli.engines.remote:PLUGIN``).
"""

from __future__ import annotations

from typing import Any

from voiceclone_cli.engines.registry import EngineStatus


class _RemotePlugin:
    description = "the hosted sync-clone API (the default; needs an API key)"

    def create(self, settings: Any, *, max_workers: int = 8, require_key: bool = True) -> Any:
        """``require_key=False`` is for dry runs, which plan requests but never send one."""
        from voiceclone_cli.engines.remote.engine import RemoteEngine

        return RemoteEngine(settings, max_workers=max_workers, require_key=require_key)

    def status(self, settings: Any) -> EngineStatus:
        if settings.api_key:
            return EngineStatus(True)
        return EngineStatus(False, "an API key",
                            "voiceclone config set api-key (or set VOICECLONE_API_KEY)")


PLUGIN = _RemotePlugin()
