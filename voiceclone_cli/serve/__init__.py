"""``voiceclone serve``: the sync-clone API and an OpenAI-style speech API on your own machine.

Starlette routes (``routes``) over one engine, behind API keys (``keys``), a per-key rate limit
and a bounded work queue (``limits``), with an access log that never holds a secret
(``accesslog``). ``server`` runs it under uvicorn. Everything here is imported only by the
``serve`` command, so the other commands never pay for the web stack.
"""
