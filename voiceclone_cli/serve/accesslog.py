"""The access log: one line a request (method, route, status, bytes, seconds) on stderr.

Only the path is logged, never the query string, headers or body: a key, the text and the
audio cannot reach the log. ``--log-format json`` makes each line a JSON object.
"""

from __future__ import annotations

import json
import logging
import time

access = logging.getLogger("voiceclone.serve.access")


class AccessLog:
    """ASGI middleware: measures each response as it is sent and logs it when it ends."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        seen = {"status": 499, "bytes": 0}  # 499: the client left before an answer began

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            status = 499 if scope.get("voiceclone.client_gone") else seen["status"]
            access.info("", extra={"access": {
                "method": scope.get("method", ""), "path": scope.get("path", ""), "status": status,
                "bytes": seen["bytes"], "seconds": round(time.monotonic() - started, 3),
                "client": (scope.get("client") or ("", 0))[0],
            }})


class AccessFormatter(logging.Formatter):
    """``text``: ``127.0.0.1 POST /api/sync-clone 200 52044 B 0.412 s``; ``json``: an object."""

    def __init__(self, style: str = "text") -> None:
        super().__init__()
        self.json = style == "json"

    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "access", None)
        if entry is None:  # the server's own messages
            text = record.getMessage()
            if self.json:
                return json.dumps({"level": record.levelname.lower(), "message": text})
            prefix = "warning: " if record.levelno >= logging.WARNING else ""
            return f"voiceclone: {prefix}{text}"
        if self.json:
            return json.dumps(entry)
        return (f"{entry['client']} {entry['method']} {entry['path']} {entry['status']} "
                f"{entry['bytes']} B {entry['seconds']:.3f} s")
