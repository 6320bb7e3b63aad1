"""What the API's read endpoints ask: a server's panels, one ticket, a member's tickets.

Everything is scoped to one server: another server's ticket or panel is "not found".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.core.errors import InvalidRequest
from bot.core.models import Panel, Ticket

ListStatus = Literal["open", "closed", "archived"]
LIST_STATUSES: tuple[ListStatus, ...] = ("open", "closed", "archived")
PAGE_MAX = 100


class ReadStore(Protocol):
    async def ticket_by_channel(self, guild_id: int, channel_id: int) -> Ticket | None: ...

    async def user_tickets(
        self,
        guild_id: int,
        user_id: int,
        statuses: tuple[ListStatus, ...],
        before_ticket_id: int | None,
        limit: int,
    ) -> list[Ticket]:
        """Newest first, only tickets older than `before_ticket_id` when given."""
        ...

    async def list_panels(self, guild_id: int) -> list[Panel]: ...


@dataclass(frozen=True, slots=True)
class Page:
    tickets: list[Ticket]
    next_cursor: str | None


def _cursor(ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"t{ticket_id}".encode()).decode().rstrip("=")


def _after(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("t") or not text[1:].isdigit():
        raise InvalidRequest(
            "invalid_field", "cursor", "cursor is not one this API gave out (use nextCursor as is)"
        )
    return int(text[1:])


class Reads:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    async def panels(self, guild_id: int) -> list[Panel]:
        return await self._store.list_panels(guild_id)

    async def ticket(self, guild_id: int, channel_id: int) -> Ticket | None:
        return await self._store.ticket_by_channel(guild_id, channel_id)

    async def user_tickets(
        self,
        guild_id: int,
        user_id: int,
        statuses: tuple[ListStatus, ...],
        cursor: str | None,
        limit: int,
    ) -> Page:
        before = _after(cursor) if cursor is not None else None
        rows = await self._store.user_tickets(guild_id, user_id, statuses, before, limit + 1)
        more = len(rows) > limit
        page = rows[:limit]
        return Page(page, _cursor(page[-1].ticket_id) if more and page else None)
