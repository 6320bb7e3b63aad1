"""What the API did with a server's key, kept so a developer can debug an integration.

The API records every request that authenticated with a key; only the newest `KEPT_PER_SERVER`
per server are kept, and nothing secret (no key, no answers) is ever recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from bot.core.limits import Clock

KEPT_PER_SERVER = 200
_FIELD_CHARS = 40  # IDs are shorter; whatever a client sent is cut to this


@dataclass(frozen=True, slots=True)
class ApiRequest:
    at: float
    status: int
    error_code: str | None
    user_id: str | None
    panel_id: str | None
    button_id: str | None


class ApiRequestStore(Protocol):
    async def record(self, guild_id: int, request: ApiRequest, keep: int) -> None: ...

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

    async def record(
        self,
        guild_id: int,
        status: int,
        error_code: str | None,
        user_id: object = None,
        panel_id: object = None,
        button_id: object = None,
    ) -> None:
        """The fields as the client sent them (any JSON value), shortened; never answers."""
        request = ApiRequest(
            at=self._clock(),
            status=status,
            error_code=error_code,
            user_id=_field(user_id),
            panel_id=_field(panel_id),
            button_id=_field(button_id),
        )
        await self._store.record(guild_id, request, KEPT_PER_SERVER)

    async def recent(self, guild_id: int, limit: int = KEPT_PER_SERVER) -> list[ApiRequest]:
        return await self._store.recent(guild_id, min(limit, KEPT_PER_SERVER))

    async def last_used(self, guild_id: int, key_created_at: float) -> float | None:
        """When the current key last made a request (requests of an older key don't count)."""
        return await self._store.last_at(guild_id, key_created_at)
