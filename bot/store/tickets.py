"""Tickets: the reservation that makes limit checks and the insert one step, and the lifecycle."""

from __future__ import annotations

import bisect
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from bot.core.errors import PanelNotFound
from bot.core.models import Answer, Panel, Source, Ticket
from bot.core.ports import ChannelRef, LimitFacts, OpenRef
from bot.store.changes import ChangeWatch, Memo
from bot.store.cleanups import queue_cleanup
from bot.store.database import Connection, Database, IntegrityError, Params, Row
from bot.store.panels import load_panel, load_panel_for_button
from bot.store.timers import schedule_inactivity
from bot.store.webhooks import record_ticket_event

_TICKET_COLUMNS = (
    "ticket_id, guild_id, number, user_id, state, source, opened_at, channel_id, panel_id, "
    "button_id, category_id, closed_at, closed_by, close_reason, claimed_by, transcript_path, "
    "archived, claim_locked, answers, support_role_ids, welcome_message_id, claimed_at, "
    "thread_parent_id"
)


# The hot statements, by name, so tests/test_store.py can check each one's query plan: every open
# and refusal reads the limit facts; each server's arrival runs the sweep; start-up reconciles.
LIMIT_FACTS_SQL = (
    "SELECT (SELECT json_group_array(json_array(button_id, channel_id)) FROM "
    "(SELECT button_id, channel_id FROM tickets WHERE guild_id = :g AND user_id = :u "
    "AND state IN ('opening', 'open') ORDER BY opened_at) AS mine), "
    "(SELECT user_max_open FROM servers WHERE guild_id = :g), "
    "(SELECT count(*) FROM tickets WHERE guild_id = :g AND opened_at > :since), "
    "(SELECT min(opened_at) FROM tickets WHERE guild_id = :g AND opened_at > :since), "
    "(SELECT max(opened_at) FROM tickets WHERE guild_id = :g AND user_id = :u), "
    "EXISTS (SELECT 1 FROM blacklist WHERE guild_id = :g AND user_id = :u)"
)
KEPT_IN_GUILD_SQL = (
    f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id = ? AND (state = 'open' OR archived = 1)"
)
OPENING_TICKETS_SQL = (
    f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE state = 'opening' ORDER BY ticket_id"
)


def ticket_from_row(row: Row) -> Ticket:
    return Ticket(
        ticket_id=row["ticket_id"],
        guild_id=row["guild_id"],
        number=row["number"],
        user_id=row["user_id"],
        state=row["state"],
        source=row["source"],
        opened_at=row["opened_at"],
        channel_id=row["channel_id"],
        panel_id=row["panel_id"],
        button_id=row["button_id"],
        category_id=row["category_id"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        close_reason=row["close_reason"],
        claimed_by=row["claimed_by"],
        transcript_path=row["transcript_path"],
        archived=bool(row["archived"]),
        claim_locked=bool(row["claim_locked"]),
        answers=tuple(Answer(a["label"], a["value"]) for a in json.loads(row["answers"])),
        support_role_ids=tuple(json.loads(row["support_role_ids"])),
        welcome_message_id=row["welcome_message_id"],
        claimed_at=row["claimed_at"],
        thread_parent_id=row["thread_parent_id"],
    )


async def ensure_server(conn: Connection, guild_id: int, now: float) -> None:
    await conn.execute(
        "INSERT OR IGNORE INTO servers (guild_id, created_at) VALUES (?, ?)", (guild_id, now)
    )


class _LimitQueries:
    """The limit facts in two queries, on whichever connection the subclass reads from."""

    def __init__(self, guild_id: int) -> None:
        self._guild_id = guild_id

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        raise NotImplementedError

    async def _one(self, sql: str, params: Params) -> Row | None:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def facts(self, user_id: int, since: float) -> LimitFacts:
        row = await self._one(LIMIT_FACTS_SQL, {"g": self._guild_id, "since": since, "u": user_id})
        assert row is not None
        return LimitFacts(
            blacklisted=bool(row[5]),
            open_tickets=tuple(OpenRef(b, c) for b, c in json.loads(row[0])),
            user_max_open=row[1],
            opened_in_window=int(row[2]),
            oldest_in_window=row[3],
            last_open=row[4],
        )


# The facts of `_LimitQueries.facts`, with the server's recent opening times instead of their
# count and minimum: what was read for one `since` serves every later one until a commit.
RAW_FACTS_SQL = (
    "SELECT (SELECT json_group_array(json_array(button_id, channel_id)) FROM "
    "(SELECT button_id, channel_id FROM tickets WHERE guild_id = :g AND user_id = :u "
    "AND state IN ('opening', 'open') ORDER BY opened_at) AS mine), "
    "(SELECT user_max_open FROM servers WHERE guild_id = :g), "
    "(SELECT json_group_array(opened_at) FROM tickets WHERE guild_id = :g AND opened_at > :since), "
    "(SELECT max(opened_at) FROM tickets WHERE guild_id = :g AND user_id = :u), "
    "EXISTS (SELECT 1 FROM blacklist WHERE guild_id = :g AND user_id = :u)"
)


@dataclass(frozen=True, slots=True)
class _RawFacts:
    since: float
    blacklisted: bool
    open_tickets: tuple[OpenRef, ...]
    user_max_open: int | None
    recent: tuple[float, ...]  # sorted: the opens after any later `since` are a suffix
    last_open: float | None

    def facts(self, since: float) -> LimitFacts:
        recent = self.recent
        first = bisect.bisect_right(recent, since)
        return LimitFacts(
            self.blacklisted,
            self.open_tickets,
            self.user_max_open,
            len(recent) - first,
            recent[first] if first < len(recent) else None,
            self.last_open,
        )


FactsMemo = Memo[tuple[int, int], _RawFacts]


class SqliteLimitView(_LimitQueries):
    """Committed data through the read connection: no lock, for fast refusals; from memory
    while nothing was committed since it was read (when the store has a change watch)."""

    def __init__(self, db: Database, guild_id: int, memo: FactsMemo | None = None) -> None:
        self._guild_id = guild_id  # as `_LimitQueries` sets it, one call fewer per refusal
        self._db = db
        self._memo = memo

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        return await self._db.fetchall(sql, params)

    async def facts(self, user_id: int, since: float) -> LimitFacts:
        if self._memo is None:
            return await super().facts(user_id, since)
        key = (self._guild_id, user_id)
        found, raw, token = await self._memo.get(key)
        if found and raw is not None and raw.since <= since:
            return raw.facts(since)
        row = await self._one(RAW_FACTS_SQL, {"g": self._guild_id, "since": since, "u": user_id})
        assert row is not None
        raw = _RawFacts(
            since=since,
            blacklisted=bool(row[4]),
            open_tickets=tuple(OpenRef(b, c) for b, c in json.loads(row[0])),
            user_max_open=row[1],
            recent=tuple(sorted(json.loads(row[2]))),
            last_open=row[3],
        )
        self._memo.put(key, raw, token)
        return raw.facts(since)


class SqliteReservation(_LimitQueries):
    """Runs inside one write transaction: what it reads cannot change before it inserts."""

    def __init__(self, conn: Connection, guild_id: int) -> None:
        super().__init__(guild_id)
        self._conn = conn

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def insert_opening(
        self,
        *,
        user_id: int,
        panel_id: str,
        button_id: str,
        source: Source,
        answers: Sequence[Answer],
        support_role_ids: Sequence[int],
        now: float,
        thread_parent_id: int | None = None,
    ) -> Ticket:
        await ensure_server(self._conn, self._guild_id, now)
        counter = await self._one(
            "UPDATE servers SET ticket_counter = ticket_counter + 1 WHERE guild_id = ? "
            "RETURNING ticket_counter",
            (self._guild_id,),
        )
        assert counter is not None
        try:
            row = await self._one(
                "INSERT INTO tickets (guild_id, number, user_id, panel_id, button_id, state, "
                "source, answers, support_role_ids, opened_at, thread_parent_id) "
                "VALUES (?, ?, ?, ?, ?, 'opening', ?, ?, ?, ?, ?) "
                f"RETURNING {_TICKET_COLUMNS}",
                (
                    self._guild_id,
                    counter[0],
                    user_id,
                    panel_id,
                    button_id,
                    source,
                    json.dumps([{"label": a.label, "value": a.value} for a in answers]),
                    json.dumps(list(support_role_ids)),
                    now,
                    thread_parent_id,
                ),
            )
        except IntegrityError:
            # The panel or button was deleted between the lookup and this insert.
            raise PanelNotFound(panel_id) from None
        assert row is not None
        return ticket_from_row(row)


class SqliteTicketStore:
    """With a `watch`, panels and limit facts are answered from memory until the next commit."""

    def __init__(self, db: Database, watch: ChangeWatch | None = None) -> None:
        self._db = db
        self._watch = watch
        self._panels: Memo[tuple[int, str], Panel | None] | None = None
        self._facts: FactsMemo | None = None
        if watch is not None:
            self._panels, self._facts = Memo(watch), Memo(watch)
        self._views: dict[int, SqliteLimitView] = {}  # one per server: every refusal asks

    async def version(self) -> int | None:
        watch = self._watch
        if watch is None:
            return None
        known = watch.known()
        return known if known is not None else await watch.version()

    async def get_panel(self, guild_id: int, panel_id: str) -> Panel | None:
        if self._panels is None:
            return await load_panel(self._db, guild_id, panel_id)
        found, panel, token = await self._panels.get((guild_id, panel_id))
        if found:
            return panel
        panel = await load_panel(self._db, guild_id, panel_id)
        self._panels.put((guild_id, panel_id), panel, token)
        return panel

    async def panel_for_button(self, guild_id: int, button_id: str) -> Panel | None:
        return await load_panel_for_button(self._db, guild_id, button_id)

    def view(self, guild_id: int) -> SqliteLimitView:
        view = self._views.get(guild_id)
        if view is None:
            view = self._views[guild_id] = SqliteLimitView(self._db, guild_id, self._facts)
        return view

    @contextlib.asynccontextmanager
    async def reserve(self, guild_id: int) -> AsyncIterator[SqliteReservation]:
        # The server's lock: its 30/min and, per user, the blacklist, open tickets and cooldown
        # (all counted within the server) hold still until the insert commits, in every process.
        async with self._db.write(f"reserve:{guild_id}") as conn:
            yield SqliteReservation(conn, guild_id)

    async def set_channel(
        self, ticket_id: int, channel_id: int, category_id: int | None = None
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET channel_id = ?, category_id = ? WHERE ticket_id = ?",
                (channel_id, category_id, ticket_id),
            )

    async def mark_open(self, ticket_id: int, welcome_message_id: int) -> None:
        """'open' and its welcome message in one write: an open ticket always has its welcome."""
        async with self._db.write() as conn:
            opened = await conn.execute_fetchall(
                "UPDATE tickets SET state = 'open', welcome_message_id = ? WHERE ticket_id = ? "
                "RETURNING opened_at",
                (welcome_message_id, ticket_id),
            )
            for (opened_at,) in opened:
                await record_ticket_event(conn, ticket_id, "ticket.opened", opened_at)
                # Its inactivity countdown (if the server or button has one) starts with it.
                await schedule_inactivity(conn, ticket_id, opened_at)

    async def drop(
        self, ticket_id: int, leftover: ChannelRef | None = None, now: float = 0
    ) -> None:
        """Forget a failed open; a channel it made goes to the cleanup outbox in the same step."""
        async with self._db.write() as conn:
            await conn.execute("DELETE FROM tickets WHERE ticket_id = ?", (ticket_id,))
            if leftover is not None:
                await queue_cleanup(conn, leftover, now)

    async def by_numbers(self, guild_id: int, numbers: Iterable[int]) -> dict[int, Ticket]:
        """The server's tickets with these numbers, by number (what a channel's topic names)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        rows = await self._db.fetchall(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id = ? "
            f"AND number IN ({','.join('?' * len(wanted))})",
            (guild_id, *wanted),
        )
        return {row["number"]: ticket_from_row(row) for row in rows}

    async def opening_tickets(self) -> list[Ticket]:
        rows = await self._db.fetchall(OPENING_TICKETS_SQL)
        return [ticket_from_row(r) for r in rows]

    async def thread_owners(
        self, guild_id: int, thread_ids: Iterable[int]
    ) -> tuple[set[int], set[int]]:
        ids = list(thread_ids)
        marks = ", ".join("?" * len(ids)) or "NULL"
        named = await self._db.fetchall(
            f"SELECT channel_id FROM tickets WHERE guild_id = ? AND channel_id IN ({marks})",
            (guild_id, *ids),
        )
        opening = await self._db.fetchall(
            "SELECT DISTINCT thread_parent_id FROM tickets WHERE guild_id = ? "
            "AND state = 'opening' AND thread_parent_id IS NOT NULL",
            (guild_id,),
        )
        return {r[0] for r in named}, {r[0] for r in opening}

    async def tickets(self, guild_id: int) -> list[Ticket]:
        rows = await self._db.fetchall(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE guild_id = ? ORDER BY number",
            (guild_id,),
        )
        return [ticket_from_row(r) for r in rows]


class SqliteLifecycleStore:
    """Tickets after they open: who works them, how they close, what a closed one kept."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_channel(self, channel_id: int) -> Ticket | None:
        row = await self._db.fetchone(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE channel_id = ?", (channel_id,)
        )
        return None if row is None else ticket_from_row(row)

    async def by_id(self, ticket_id: int) -> Ticket | None:
        row = await self._db.fetchone(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE ticket_id = ?", (ticket_id,)
        )
        return None if row is None else ticket_from_row(row)

    async def kept_in_guild(self, guild_id: int) -> list[Ticket]:
        """Open tickets and archived closed ones: every ticket whose channel should exist."""
        rows = await self._db.fetchall(KEPT_IN_GUILD_SQL, (guild_id,))
        return [ticket_from_row(r) for r in rows]

    async def close(
        self,
        ticket_id: int,
        *,
        closed_at: float,
        closed_by: int | None,
        reason: str | None,
        archived: bool,
        transcript_path: str | None,
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET state = 'closed', closed_at = ?, closed_by = ?, "
                "close_reason = ?, archived = ?, claimed_by = NULL, claimed_at = NULL, "
                "claim_locked = 0, transcript_path = coalesce(?, transcript_path) "
                "WHERE ticket_id = ?",
                (closed_at, closed_by, reason, int(archived), transcript_path, ticket_id),
            )
            await record_ticket_event(conn, ticket_id, "ticket.closed", closed_at, closed_by)
            # Its timers and close request end with it (a reopened ticket starts afresh).
            await conn.execute("DELETE FROM ticket_timers WHERE ticket_id = ?", (ticket_id,))
            await conn.execute("DELETE FROM close_requests WHERE ticket_id = ?", (ticket_id,))

    async def reopen(self, ticket_id: int, *, now: float, by: int | None = None) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET state = 'open', archived = 0, closed_at = NULL, "
                "closed_by = NULL, close_reason = NULL WHERE ticket_id = ?",
                (ticket_id,),
            )
            await record_ticket_event(conn, ticket_id, "ticket.reopened", now, by)

    async def forget_channel(self, ticket_id: int, *, now: float, by: int | None = None) -> None:
        """The channel of a closed ticket is gone for good (deleted later or by hand)."""
        async with self._db.write() as conn:
            cursor = await conn.execute(
                "UPDATE tickets SET archived = 0 WHERE ticket_id = ? AND archived = 1", (ticket_id,)
            )
            if cursor.rowcount == 1:  # once, whichever of the command and the event comes first
                await record_ticket_event(conn, ticket_id, "ticket.deleted", now, by)

    async def set_claimed(
        self, ticket_id: int, user_id: int | None, *, locked: bool, now: float
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET claimed_by = ?, claim_locked = ?, claimed_at = ? "
                "WHERE ticket_id = ?",
                (user_id, int(locked), None if user_id is None else now, ticket_id),
            )
            if user_id is not None:
                await record_ticket_event(conn, ticket_id, "ticket.claimed", now, user_id)
                # Kept for the stats after the ticket closes, in the same transaction as the claim.
                await conn.execute(
                    "INSERT INTO ticket_claims (guild_id, ticket_id, button_id, user_id, at) "
                    "SELECT guild_id, ticket_id, button_id, ?, ? FROM tickets WHERE ticket_id = ?",
                    (user_id, now, ticket_id),
                )

    async def set_transcript(self, ticket_id: int, path: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                "UPDATE tickets SET transcript_path = ? WHERE ticket_id = ?", (path, ticket_id)
            )
