"""The read endpoints' queries: one ticket by channel, a member's tickets page by page."""

from __future__ import annotations

from bot.core.models import Panel, Ticket
from bot.core.reads import ListStatus
from bot.store.database import Database
from bot.store.panels import SqlitePanelStore
from bot.store.tickets import _TICKET_COLUMNS, ticket_from_row

_STATUS_SQL: dict[ListStatus, str] = {
    "open": "state = 'open'",
    "closed": "(state = 'closed' AND archived = 0)",
    "archived": "(state = 'closed' AND archived = 1)",
}


class SqliteReadStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._panels = SqlitePanelStore(db)

    async def ticket_by_channel(self, guild_id: int, channel_id: int) -> Ticket | None:
        row = await self._db.fetchone(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE channel_id = ? AND guild_id = ?",
            (channel_id, guild_id),
        )
        return None if row is None else ticket_from_row(row)

    async def user_tickets(
        self,
        guild_id: int,
        user_id: int,
        statuses: tuple[ListStatus, ...],
        before_ticket_id: int | None,
        limit: int,
    ) -> list[Ticket]:
        which = " OR ".join(_STATUS_SQL[s] for s in statuses)
        rows = await self._db.fetchall(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id = ? AND user_id = ? "
            f"AND ticket_id < ? AND ({which}) ORDER BY ticket_id DESC LIMIT ?",
            (guild_id, user_id, before_ticket_id or 2**63 - 1, limit),
        )
        return [ticket_from_row(r) for r in rows]

    async def list_panels(self, guild_id: int) -> list[Panel]:
        return await self._panels.list_panels(guild_id)
