"""Timers, close requests, exemptions and leavers: what keeps tickets tidy on their own."""

from __future__ import annotations

import json

from bot.core.models import Ticket
from bot.core.ports import CloseRequest, Timer, TimerKind
from bot.core.shards import Shards
from bot.store.database import Database
from bot.store.shards import on_shards
from bot.store.tickets import _TICKET_COLUMNS, ticket_from_row
from bot.store.timers import schedule_inactivity

RESTART_EVERY_S = 60.0  # an opener's messages restart the inactivity countdown once a minute


class SqliteAutomationStore:
    """`shards`: only timers of servers on these shards are claimed here (None: every server)."""

    def __init__(self, db: Database, shards: Shards | None = None) -> None:
        self._db = db
        mine = on_shards("s.guild_id", shards)
        self._mine = (
            " AND EXISTS (SELECT 1 FROM tickets s "
            f"WHERE s.ticket_id = ticket_timers.ticket_id{mine})"
            if mine
            else ""
        )

    # -- the timers -----------------------------------------------------------------------------

    async def claim_due(self, now: float, lease: float, limit: int) -> list[Timer]:
        """Due timers, each claimed in the same statement by moving it `lease` seconds ahead:
        a second runner (or process) can't take it, and a crash gives it back when the lease
        runs out."""
        # PostgreSQL's writers run side by side: each skips the rows another is claiming, and
        # the due_at test is made again on the row it locked.
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._db.engine == "postgres" else ""
        async with self._db.write() as conn:
            rows = await conn.execute_fetchall(
                "UPDATE ticket_timers SET due_at = :until, attempts = attempts + 1 "
                "WHERE timer_id IN (SELECT timer_id FROM ticket_timers WHERE due_at <= :now"
                + self._mine
                + f" ORDER BY due_at LIMIT :limit{skip_locked}) AND due_at <= :now "
                "RETURNING timer_id, ticket_id, kind, attempts",
                {"now": now, "until": now + lease, "limit": limit},
            )
        timers = [Timer(r[0], r[1], r[2], r[3]) for r in rows]
        return sorted(timers, key=lambda t: t.timer_id)

    async def next_at(self) -> float | None:
        row = await self._db.fetchone(
            "SELECT min(due_at) FROM ticket_timers WHERE TRUE" + self._mine
        )
        return None if row is None else row[0]

    async def done(self, timer_id: int) -> None:
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM ticket_timers WHERE timer_id = ?", (timer_id,))

    async def retry_at(self, timer_id: int, due_at: float, error: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE ticket_timers SET due_at = ?, last_error = ? WHERE timer_id = ?",
                (due_at, error, timer_id),
            )

    async def warned(self, timer_id: int, ticket_id: int, close_at: float, now: float) -> None:
        """The warning was posted: it becomes the close stage, in one step."""
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM ticket_timers WHERE timer_id = ?", (timer_id,))
            await conn.execute(
                "INSERT INTO ticket_timers (ticket_id, kind, due_at, created_at) "
                "VALUES (?, 'inactivity_close', ?, ?) ON CONFLICT (ticket_id, kind) "
                "DO UPDATE SET due_at = excluded.due_at, attempts = 0, last_error = NULL",
                (ticket_id, close_at, now),
            )

    async def timers(self, ticket_id: int) -> dict[TimerKind, float]:
        rows = await self._db.fetchall(
            "SELECT kind, due_at FROM ticket_timers WHERE ticket_id = ?", (ticket_id,)
        )
        return {r["kind"]: r["due_at"] for r in rows}

    async def inactivity_hours(self, ticket_id: int) -> tuple[float, float] | None:
        """(warn, close) hours for the ticket: the button's override, else the server's."""
        row = await self._db.fetchone(
            "SELECT coalesce(b.inactivity_warn_hours, s.inactivity_warn_hours) AS warn, "
            "coalesce(b.inactivity_close_hours, s.inactivity_close_hours) AS close "
            "FROM tickets t JOIN servers s ON s.guild_id = t.guild_id "
            "LEFT JOIN buttons b ON b.button_id = t.button_id WHERE t.ticket_id = ?",
            (ticket_id,),
        )
        if row is None or not row["warn"]:
            return None
        return float(row["warn"]), float(row["close"])

    # -- tickets --------------------------------------------------------------------------------

    async def ticket(self, ticket_id: int) -> Ticket | None:
        row = await self._db.fetchone(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id = ?", (ticket_id,)
        )
        return None if row is None else ticket_from_row(row)

    async def open_ticket_in(self, channel_id: int) -> tuple[int, int] | None:
        """(ticket, opener) of the open ticket in this channel: one indexed read per message."""
        row = await self._db.fetchone(
            "SELECT ticket_id, user_id FROM tickets WHERE channel_id = ? AND state = 'open'",
            (channel_id,),
        )
        return None if row is None else (row[0], row[1])

    async def opener_spoke(self, ticket_id: int, now: float) -> bool:
        """Restart the inactivity countdown and drop a close request's timer; True if there was
        one (the channel is told)."""
        pending = await self._db.fetchall(
            "SELECT kind, created_at FROM ticket_timers WHERE ticket_id = ?", (ticket_id,)
        )
        # Most messages change nothing: no timers (auto-close off, exempt), or a countdown
        # restarted less than a minute ago. Those cost one read, not a write.
        if not pending or all(
            r["kind"] == "inactivity_warn" and r["created_at"] > now - RESTART_EVERY_S
            for r in pending
        ):
            return False
        async with self._db.write() as conn:
            await schedule_inactivity(conn, ticket_id, now)
            cursor = await conn.execute(
                "DELETE FROM ticket_timers WHERE ticket_id = ? AND kind = 'close_request'",
                (ticket_id,),
            )
            had_timer = cursor.rowcount > 0
            if had_timer:
                await conn.execute(
                    "UPDATE close_requests SET close_at = NULL WHERE ticket_id = ?", (ticket_id,)
                )
        return had_timer

    async def set_exempt(self, ticket_id: int, exempt: bool, now: float) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET auto_close_exempt = ? WHERE ticket_id = ?",
                (int(exempt), ticket_id),
            )
            await schedule_inactivity(conn, ticket_id, now)  # none while exempt

    async def is_exempt(self, ticket_id: int) -> bool:
        row = await self._db.fetchone(
            "SELECT auto_close_exempt FROM tickets WHERE ticket_id = ?", (ticket_id,)
        )
        return row is not None and bool(row[0])

    async def reschedule_server(self, guild_id: int, now: float) -> int:
        """After the server's inactivity settings changed: every open ticket counts from now."""
        async with self._db.write() as conn:
            rows = await conn.execute_fetchall(
                "SELECT ticket_id FROM tickets WHERE guild_id = ? AND state = 'open'", (guild_id,)
            )
            for (ticket_id,) in rows:
                await schedule_inactivity(conn, ticket_id, now)
        return len(list(rows))

    # -- close requests -------------------------------------------------------------------------

    async def put_request(self, request: CloseRequest, now: float) -> None:
        """The ticket's close request (replacing an earlier one) and its timer, in one step."""
        async with self._db.write() as conn:
            await conn.execute(
                "INSERT INTO close_requests "
                "(ticket_id, requested_by, reason, close_at, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (ticket_id) DO UPDATE SET requested_by = excluded.requested_by, "
                "reason = excluded.reason, close_at = excluded.close_at, "
                "created_at = excluded.created_at",
                (request.ticket_id, request.requested_by, request.reason, request.close_at, now),
            )
            await conn.execute(
                "DELETE FROM ticket_timers WHERE ticket_id = ? AND kind = 'close_request'",
                (request.ticket_id,),
            )
            if request.close_at is not None:
                await conn.execute(
                    "INSERT INTO ticket_timers (ticket_id, kind, due_at, created_at) "
                    "VALUES (?, 'close_request', ?, ?)",
                    (request.ticket_id, request.close_at, now),
                )

    async def request(self, ticket_id: int) -> CloseRequest | None:
        row = await self._db.fetchone(
            "SELECT ticket_id, requested_by, reason, close_at FROM close_requests "
            "WHERE ticket_id = ?",
            (ticket_id,),
        )
        return None if row is None else CloseRequest(row[0], row[1], row[2], row[3])

    async def take_request(self, ticket_id: int) -> CloseRequest | None:
        """Remove the pending request (and its timer); the one that was there, if any."""
        async with self._db.write() as conn:
            rows = await conn.execute_fetchall(
                "DELETE FROM close_requests WHERE ticket_id = ? "
                "RETURNING ticket_id, requested_by, reason, close_at",
                (ticket_id,),
            )
            await conn.execute(
                "DELETE FROM ticket_timers WHERE ticket_id = ? AND kind = 'close_request'",
                (ticket_id,),
            )
        found = [CloseRequest(r[0], r[1], r[2], r[3]) for r in rows]
        return found[0] if found else None

    # -- openers who left -----------------------------------------------------------------------

    async def openers(self, guild_id: int) -> dict[int, list[int]]:
        """Opener → their open tickets not yet handled as left, for the check at startup."""
        rows = await self._db.fetchall(
            "SELECT user_id, json_group_array(ticket_id) AS ids FROM tickets "
            "WHERE guild_id = ? AND state = 'open' AND opener_left_at IS NULL GROUP BY user_id",
            (guild_id,),
        )
        return {r["user_id"]: json.loads(r["ids"]) for r in rows}

    async def mark_left(self, ticket_id: int, now: float) -> bool:
        """Record that the opener left; False if it was already recorded (say it once)."""
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET opener_left_at = ? "
                "WHERE ticket_id = ? AND opener_left_at IS NULL",
                (now, ticket_id),
            )
            return cursor.rowcount > 0

    async def add_overflow_category(self, button_id: str, category_id: int) -> None:
        """A category the bot created when all of the button's were full: used from now on."""
        async with self._db.write() as conn:
            if conn.engine == "postgres":
                await conn.execute(
                    "UPDATE buttons SET overflow_category_ids = "
                    "(overflow_category_ids::jsonb || to_jsonb(?::bigint))::text "
                    "WHERE button_id = ? "
                    "AND NOT overflow_category_ids::jsonb @> to_jsonb(?::bigint)",
                    (category_id, button_id, category_id),
                )
                return
            await conn.execute(
                "UPDATE buttons SET overflow_category_ids = json_insert(overflow_category_ids, "
                "'$[#]', ?) WHERE button_id = ? AND NOT EXISTS (SELECT 1 FROM "
                "json_each(overflow_category_ids) WHERE value = ?)",
                (category_id, button_id, category_id),
            )

    # -- feedback -------------------------------------------------------------------------------

    async def rating(self, ticket_id: int) -> int | None:
        row = await self._db.fetchone(
            "SELECT rating FROM tickets WHERE ticket_id = ?", (ticket_id,)
        )
        return None if row is None else row[0]

    async def rate(self, ticket_id: int, stars: int, comment: str | None, now: float) -> bool:
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET rating = ?, rating_comment = ?, rated_at = ? "
                "WHERE ticket_id = ? AND rating IS NULL",
                (stars, comment, now, ticket_id),
            )
            return cursor.rowcount > 0
