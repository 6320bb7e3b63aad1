"""Idempotency keys (Stripe's semantics): a POST retried with the same key gets the first answer.

The first request with a key claims it; its answer (status, body, a few headers) is kept for
`TTL_S` and replayed to every retry with the same key. A retry while the first is still running is
told so; the same key with another request is refused. Kept in the database: a restart keeps them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.limits import Clock

TTL_S = 24 * 3600.0
# A claim older than this whose request never finished (the process died) may be taken over.
ABANDONED_S = 120.0


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request with a key should do: run it, replay an answer, or be refused."""

    outcome: Literal["run", "replay", "in_flight", "mismatch"]
    answer: StoredAnswer | None = None


class IdempotencyStore(Protocol):
    async def lookup(
        self, guild_id: int, key: str, since: float
    ) -> tuple[str, StoredAnswer | None] | None:
        """(fingerprint, answer or None while in flight) of a key claimed after `since`."""
        ...

    async def claim(
        self,
        guild_id: int,
        key: str,
        fingerprint: str,
        now: float,
        expired: float,
        abandoned: float,
    ) -> Claim: ...

    async def finish(self, guild_id: int, key: str, answer: StoredAnswer) -> None: ...

    async def release(self, guild_id: int, key: str) -> None: ...


class IdempotencyKeys:
    def __init__(self, store: IdempotencyStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    async def claim(self, guild_id: int, key: str, fingerprint: str) -> Claim:
        now = self._clock()
        # A replay (the common retry) is a read, without the write lock.
        found = await self._store.lookup(guild_id, key, now - TTL_S)
        if found is not None:
            stored_fingerprint, answer = found
            if stored_fingerprint != fingerprint:
                return Claim("mismatch")
            if answer is not None:
                return Claim("replay", answer)
        return await self._store.claim(
            guild_id, key, fingerprint, now, now - TTL_S, now - ABANDONED_S
        )

    async def finish(self, guild_id: int, key: str, answer: StoredAnswer) -> None:
        await self._store.finish(guild_id, key, answer)

    async def release(self, guild_id: int, key: str) -> None:
        """Forget a claim whose request ended without an answer worth replaying (a bug)."""
        await self._store.release(guild_id, key)
