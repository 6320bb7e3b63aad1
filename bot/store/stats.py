"""Staff stats in SQLite: claims and first replies as they happen, and the stats page's reads."""

from __future__ import annotations

import json
from typing import Any

from bot.core.limits import Clock
from bot.core.stats import Period, RawStats
from bot.store.database import Database
from bot.store.tickets import SqliteLifecycleStore


class ClaimRecordingLifecycleStore(SqliteLifecycleStore):
    """The lifecycle's store, also keeping every claim for the stats (`ticket_claims`)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db)
        self._clock = clock

    async def set_claimed(
        self, ticket_id: int, user_id: int | None, *, locked: bool, **more: Any
    ) -> None:
        await super().set_claimed(ticket_id, user_id, locked=locked, **more)
        if user_id is None:
            return
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO ticket_claims (guild_id, ticket_id, button_id, user_id, at) "
                "SELECT guild_id, ticket_id, button_id, ?, ? FROM tickets WHERE ticket_id = ?",
                (user_id, self._clock(), ticket_id),
            )

    async def record_first_reply(self, ticket_id: int, at: float) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET first_staff_reply_at = ? "
                "WHERE ticket_id = ? AND first_staff_reply_at IS NULL",
                (at, ticket_id),
            )
            return cursor.rowcount == 1


class SqliteStats:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, guild_id: int, period: Period, button_id: str | None) -> RawStats:
        params: dict[str, Any] = {
            "g": guild_id,
            "start": period.start,
            "end": period.end,
            "b": button_id,
        }
        button = "" if button_id is None else " AND button_id = :b"
        # The day's number, rounded down (PostgreSQL's CAST rounds to the nearest).
        day = "CAST" if self._db.engine == "sqlite" else "floor"
        opened = await self._db.fetchall(
            f"SELECT {day}((opened_at - :start) / 86400{' AS INTEGER' if day == 'CAST' else ''}) "
            "AS day, source, count(*) "
            "FROM tickets WHERE guild_id = :g AND opened_at >= :start AND opened_at < :end "
            f"AND state != 'opening'{button} GROUP BY day, source",
            params,
        )
        # Durations come back as one JSON array each: one row instead of thousands.
        row = await self._db.fetchone(
            "SELECT "
            "(SELECT count(*) FROM tickets WHERE guild_id = :g AND state = 'open'"
            f"{button}), "
            "json_group_array(first_staff_reply_at - opened_at) "
            "FILTER (WHERE first_staff_reply_at IS NOT NULL), "
            "json_group_array(closed_at - opened_at) FILTER (WHERE closed_at IS NOT NULL) "
            "FROM tickets WHERE guild_id = :g AND opened_at >= :start AND opened_at < :end"
            f"{button}",
            params,
        )
        assert row is not None
        claims = await self._db.fetchall(
            "SELECT user_id, count(*) FROM ticket_claims "
            f"WHERE guild_id = :g AND at >= :start AND at < :end{button} GROUP BY user_id",
            params,
        )
        closes = await self._db.fetchall(
            "SELECT closed_by, count(*) FROM tickets WHERE guild_id = :g "
            "AND closed_at >= :start AND closed_at < :end AND closed_by IS NOT NULL "
            f"AND closed_by != user_id{button} GROUP BY closed_by",
            params,
        )
        return RawStats(
            opened=[(int(r[0]), str(r[1]), int(r[2])) for r in opened],
            open_now=int(row[0]),
            first_reply_s=[float(v) for v in json.loads(row[1])],
            close_s=[float(v) for v in json.loads(row[2])],
            claims={int(r[0]): int(r[1]) for r in claims},
            closes={int(r[0]): int(r[1]) for r in closes},
        )
