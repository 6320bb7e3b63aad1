"""The dashboard's reads of tickets: a filtered, paginated list and single tickets by number."""

from __future__ import annotations

from typing import Any

from bot.core.access import TicketScope
from bot.core.desk import TicketFilter
from bot.core.models import Ticket
from bot.store.database import Database, Engine
from bot.store.tickets import _TICKET_COLUMNS, ticket_from_row

_STATES = {
    "all": "state IN ('open', 'closed')",
    "open": "state = 'open'",
    "closed": "state = 'closed'",
    "archived": "state = 'closed' AND archived = 1",
}


def _marks(prefix: str, values: tuple[int, ...] | frozenset[int], params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(sorted(values)):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names)


# The ticket's support roles (a JSON array of IDs) as rows, in each engine's dialect.
_ROLE_IDS = {
    "sqlite": "SELECT value AS id FROM json_each(tickets.support_role_ids)",
    "postgres": "SELECT jsonb_array_elements_text(tickets.support_role_ids::jsonb)::bigint AS id",
}


def scope_sql(scope: TicketScope, params: dict[str, Any], engine: Engine = "sqlite") -> str:
    """`TicketScope.covers` as a WHERE clause (the server is already fixed by the query)."""
    if scope.everything:
        return "1 = 1"
    params["me"] = scope.user_id
    if not scope.role_ids:
        return "user_id = :me"
    roles = _marks("role", scope.role_ids, params)
    return (
        f"(user_id = :me OR EXISTS (SELECT 1 FROM ({_ROLE_IDS[engine]}) AS role "
        f"WHERE role.id IN ({roles})))"
    )


class SqliteTicketList:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_tickets(
        self,
        scope: TicketScope,
        filters: TicketFilter,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Ticket]:
        params: dict[str, Any] = {"g": scope.guild_id, "limit": limit}
        where = ["guild_id = :g", _STATES[filters.state], scope_sql(scope, params, self._db.engine)]
        equal = {
            "button_id": filters.button_id,
            "source": filters.source,
            "user_id": filters.opener_id,
            "claimed_by": filters.claimed_by,
            "number": filters.number,
        }
        for column, value in equal.items():
            if value is not None:
                params[f"f_{column}"] = value
                where.append(f"{column} = :f_{column}")
        if filters.unclaimed:
            where.append("state = 'open' AND claimed_by IS NULL")
        if filters.opened_from is not None:
            params["from"] = filters.opened_from
            where.append("opened_at >= :from")
        if filters.opened_before is not None:
            params["before"] = filters.opened_before
            where.append("opened_at < :before")
        if filters.opener_ids is not None:
            # None of them: IN (NULL) matches nothing (PostgreSQL refuses an empty IN ()).
            openers = _marks("opener", filters.opener_ids, params) or "NULL"
            where.append(f"user_id IN ({openers})")
        # By number from a cursor (keyset): the (guild_id, number) index starts at the page.
        order = "DESC"
        if after is not None:
            params["after"] = after
            where.append("number > :after")
            order = "ASC"
        elif before is not None:
            params["before_n"] = before
            where.append("number < :before_n")
        rows = await self._db.fetchall(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE {' AND '.join(where)} "
            f"ORDER BY number {order} LIMIT :limit",
            params,
        )
        return [ticket_from_row(r) for r in rows]

    async def by_number(self, guild_id: int, number: int) -> Ticket | None:
        row = await self._db.fetchone(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id = ? AND number = ?",
            (guild_id, number),
        )
        return None if row is None else ticket_from_row(row)

    async def own_tickets(self, user_id: int, guild_ids: list[int], limit: int) -> list[Ticket]:
        if not guild_ids:
            return []
        params: dict[str, Any] = {"u": user_id, "limit": limit}
        guilds = _marks("g", tuple(guild_ids), params)
        rows = await self._db.fetchall(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id IN ({guilds}) "
            "AND user_id = :u ORDER BY opened_at DESC LIMIT :limit",
            params,
        )
        return [ticket_from_row(r) for r in rows]

    async def support_role_ids(self, guild_id: int) -> set[int]:
        rows = await self._db.fetchall(
            "SELECT DISTINCT r.role_id FROM button_support_roles r "
            "JOIN buttons b USING (button_id) JOIN panels p USING (panel_id) "
            "WHERE p.guild_id = ?",
            (guild_id,),
        )
        return {int(r[0]) for r in rows}

    async def claims(self, ticket_id: int) -> list[tuple[int, float]]:
        rows = await self._db.fetchall(
            "SELECT user_id, at FROM ticket_claims WHERE ticket_id = ? ORDER BY claim_id",
            (ticket_id,),
        )
        return [(int(r[0]), float(r[1])) for r in rows]
