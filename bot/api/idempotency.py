"""`Idempotency-Key` on POST: the first answer is stored and replayed to a retry with the same key.

A retry is marked `Idempotent-Replayed: true`. The same key with a different request → 422
`idempotency_key_reused`; while the first request is still running → 409 `idempotency_key_in_use`.
Every answer is stored except a bug's 500 (`internal_error`), which frees the key for a retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.errors import IdempotencyKeyInUse, IdempotencyKeyInvalid, IdempotencyKeyReused
from bot.core.idempotency import IdempotencyKeys, StoredAnswer

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_MAX = 255
# Headers that belong to the answer itself and are replayed with it.
_KEPT_HEADERS = ("Retry-After", "WWW-Authenticate")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was first used with: JSON bodies compare by content, not formatting."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256(f"{method}\n{path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _key(request: web.Request) -> str:
    key = request.headers[HEADER]
    if not 1 <= len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid
    return key


def _replay(answer: StoredAnswer) -> web.Response:
    return web.Response(
        status=answer.status,
        body=answer.body.encode(),
        content_type="application/json",
        headers={**answer.headers, REPLAYED: "true"},
    )


async def idempotent(
    request: web.Request,
    guild_id: int,
    keys: IdempotencyKeys,
    run: Callable[[], Awaitable[web.Response]],
) -> web.Response:
    key = _key(request)
    body = await request.read()
    claim = await keys.claim(guild_id, key, fingerprint(request.method, request.path, body))
    if claim.outcome == "replay":
        assert claim.answer is not None
        return _replay(claim.answer)
    if claim.outcome == "mismatch":
        raise IdempotencyKeyReused(key)
    if claim.outcome == "in_flight":
        raise IdempotencyKeyInUse(key)
    # Shielded: a client that hangs up does not stop the answer from being stored.
    task = asyncio.ensure_future(_run_and_store(guild_id, key, keys, run))
    task.add_done_callback(_retrieve)  # an outcome nobody awaits any more is still collected
    return await asyncio.shield(task)


def _retrieve(task: asyncio.Future[web.Response]) -> None:
    if not task.cancelled():
        task.exception()


async def _run_and_store(
    guild_id: int, key: str, keys: IdempotencyKeys, run: Callable[[], Awaitable[web.Response]]
) -> web.Response:
    try:
        response = await run()
    except BaseException:
        await keys.release(guild_id, key)
        raise
    payload = response.body if isinstance(response.body, bytes) else b""
    if response.status == 500 and b'"internal_error"' in payload:
        await keys.release(guild_id, key)
        return response
    headers = {h: response.headers[h] for h in _KEPT_HEADERS if h in response.headers}
    await keys.finish(guild_id, key, StoredAnswer(response.status, payload.decode(), headers))
    return response
