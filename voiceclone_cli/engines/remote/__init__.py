"""The hosted sync-clone API as an engine.

- ``engine``: ``RemoteEngine`` (the engine protocol over the client);
- ``client``: the HTTP client (multipart upload, error mapping, retries);
- ``retry``: backoff, ``Retry-After`` and the rate gate shared by workers;
- ``http_deadline``: one overall deadline per request attempt.
"""
