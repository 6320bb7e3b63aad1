"""What the API did with a server's key, kept so a developer can debug an integration.

The API records every request that authenticated with a key; only the newest `KEPT_PER_SERVER`
per server are kept, and nothing secret (no key, no answers) is ever recorded. Records are
written in batches by one background flush, so a flood of requests costs one write per batch
(gathered for `BATCH_DELAY_S`), not one per request, and a batch holds at most the newest
`KEPT_PER_SERVER` of each server (older ones would be deleted by the same write): however fast
a flood, the database writes at most that many rows per server per batch. Reads flush first, so
a page always shows every request answered so far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from bot.core.limits import Clock

_LOG = logging.getLogger("rimpllee.api")

KEPT_PER_SERVER = 200
# A record waits this long for others to share its write (a page reads flush at once).
BATCH_DELAY_S = 1.0
_FIELD_CHARS = 40  # IDs are shorter; whatever a client sent is cut to this


class ApiRequest(NamedTuple):  # a named tuple: one is built per API request, and builds fast
    at: float
    status: int
    error_code: str | None
    user_id: str | None
    panel_id: str | None
    button_id: str | None
    request_id: str | None = None  # the answer's X-Request-Id


class ApiRequestStore(Protocol):
    async def record(self, requests: Sequence[tuple[int, ApiRequest]], keep: int) -> None:
        """Add (server, request) rows in one transaction, keeping each server's newest `keep`."""
        ...

    async def recent(self, guild_id: int, limit: int) -> list[ApiRequest]:
        """Newest first."""
        ...

    async def last_at(self, guild_id: int, since: float) -> float | None: ...


def _field(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:_FIELD_CHARS]


class ApiRequestLog:
    def __init__(self, store: ApiRequestStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock
        # Per server, the newest `KEPT_PER_SERVER` not yet written, oldest first.
        self._pending: dict[int, deque[ApiRequest]] = {}
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    def record(
        self,
        guild_id: int,
        status: int,
        error_code: str | None,
        user_id: object = None,
        panel_id: object = None,
        button_id: object = None,
        request_id: str | None = None,
    ) -> None:
        """The fields as the client sent them (any JSON value), shortened; never answers."""
        request = ApiRequest(
            self._clock(),
            status,
            error_code,
            _field(user_id),
            _field(panel_id),
            _field(button_id),
            request_id,
        )
        pending = self._pending.get(guild_id)
        if pending is None:
            pending = self._pending[guild_id] = deque(maxlen=KEPT_PER_SERVER)
        pending.append(request)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush_logged(BATCH_DELAY_S)
            )

    async def _flush_logged(self, delay: float = 0.0) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)  # gathers the requests of a busy moment in one write
            await self.flush()
        except Exception:
            _LOG.exception("could not write a batch of API requests to the request log")

    async def flush(self) -> None:
        """Write everything recorded so far (in one transaction)."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            batch = [(guild_id, r) for guild_id, rows in pending.items() for r in rows]
            if batch:
                await self._store.record(batch, KEPT_PER_SERVER)

    async def drain(self) -> None:
        """At shutdown, before the database closes: nothing recorded is lost."""
        if self._flusher is not None:
            await self._flusher
        await self._flush_logged()

    async def recent(self, guild_id: int, limit: int = KEPT_PER_SERVER) -> list[ApiRequest]:
        await self.flush()
        return await self._store.recent(guild_id, min(limit, KEPT_PER_SERVER))

    async def last_used(self, guild_id: int, key_created_at: float) -> float | None:
        """When the current key last made a request (requests of an older key don't count)."""
        await self.flush()
        return await self._store.last_at(guild_id, key_created_at)
